package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"
)

// machine describes where and how the run happened.
type machine struct {
	Machine   string            `json:"machine"` // "machine": tells the line apart from cell lines
	CPU       string            `json:"cpu"`
	Cores     int               `json:"cores"`
	MemoryGiB float64           `json:"memory_gib"`
	Kernel    string            `json:"kernel"`
	Go        string            `json:"go"`
	Servers   map[string]string `json:"servers"`
	Started   string            `json:"started"`
	Finished  string            `json:"finished"`
	LoadStart string            `json:"load_start"`
	LoadEnd   string            `json:"load_end"`
	Duration  string            `json:"duration_per_cell"`
	Reps      int               `json:"reps"`
	Duration1 string            `json:"duration_per_cell_n1"`
	Reps1     int               `json:"reps_n1"`
	Ns        []int             `json:"ns"`
	Hold      string            `json:"hold"`
	Hold1     string            `json:"hold_n1"`
	Prewarm   string            `json:"prewarm_per_contender,omitempty"`
	// EtcdCompacted: etcd's history was compacted before every etcd cell.
	EtcdCompacted bool `json:"etcd_compacted_per_cell"`
}

func describeMachine(ctx context.Context, e *env, chosen []spec) machine {
	m := machine{Machine: "machine", Cores: runtime.NumCPU(), Go: runtime.Version(), Servers: map[string]string{}}
	m.CPU = firstField("/proc/cpuinfo", "model name")
	if kb := firstField("/proc/meminfo", "MemTotal"); kb != "" {
		var n float64
		_, _ = fmt.Sscan(strings.TrimSuffix(kb, " kB"), &n)
		m.MemoryGiB = float64(int(n/1024/1024*10+0.5)) / 10
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	uses := func(b string) bool {
		for _, s := range chosen {
			if strings.HasPrefix(s.backend, b) {
				return true
			}
		}
		return false
	}
	if uses("redis") {
		rdb := redis.NewClient(&redis.Options{Addr: e.redisAddrs[0]})
		if info, err := rdb.InfoMap(ctx, "server").Result(); err == nil {
			m.Servers["redis"] = info["Server"]["redis_version"]
		}
		_ = rdb.Close()
	}
	if uses("etcd") {
		if cli, err := newEtcd(e); err == nil {
			if st, err := cli.Status(ctx, e.etcd[0]); err == nil {
				m.Servers["etcd"] = st.Version
			}
			_ = cli.Close()
		}
	}
	if uses("zookeeper") {
		m.Servers["zookeeper"] = zkVersion(e.zk[0])
	}
	if uses("postgres") {
		if conn, err := pgx.Connect(ctx, e.postgresDSN); err == nil {
			var v string
			if conn.QueryRow(ctx, "SHOW server_version").Scan(&v) == nil {
				m.Servers["postgres"] = v
			}
			_ = conn.Close(ctx)
		}
	}
	return m
}

func firstField(path, name string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == name {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

func printMachine(w io.Writer, m machine) {
	var servers []string
	for _, k := range []string{"redis", "etcd", "zookeeper", "postgres"} {
		if v, ok := m.Servers[k]; ok {
			servers = append(servers, k+" "+v)
		}
	}
	fmt.Fprintf(w, "machine: %s, %d cores, %.1f GiB, Linux %s, %s\n", m.CPU, m.Cores, m.MemoryGiB, m.Kernel, m.Go)
	fmt.Fprintf(w, "servers (loopback): %s\n", strings.Join(servers, ", "))
	prewarm := "no prewarm"
	if m.Prewarm != "" {
		prewarm = "every contender prewarmed " + m.Prewarm
	}
	if m.EtcdCompacted {
		prewarm += ", etcd compacted before every etcd cell"
	}
	fmt.Fprintf(w, "run: %s to %s, %s, N>1: %d reps of %s, N=1: %d reps of %s, interleaved, each round starting at the next contender (ops/s and CPU/op pooled, others medians), hold %s at N>1 (%s at N=1), load avg %s -> %s\n\n",
		m.Started, m.Finished, prewarm, m.Reps, m.Duration, m.Reps1, m.Duration1, m.Hold, m.Hold1, m.LoadStart, m.LoadEnd)
}

// us prints microseconds as µs or ms.
func us(v float64) string {
	switch {
	case v < 0:
		return "-"
	case v < 1000:
		return fmt.Sprintf("%.0fµs", v)
	case v < 100000:
		return fmt.Sprintf("%.2fms", v/1000)
	default:
		return fmt.Sprintf("%.0fms", v/1000)
	}
}

func ratio(a, b float64) string {
	if b <= 0 || a < 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f×", a/b)
}

// refs are the best peer's, the floor's and the fenced floor's ops/s for one
// backend and N.
type refs struct{ peer, floor, fenced float64 }

func references(rs []cellResult) map[string]refs {
	out := map[string]refs{}
	for _, r := range rs {
		if r.Failed != "" {
			continue
		}
		id := fmt.Sprintf("%s|%d", r.Backend, r.N)
		x := out[id]
		switch r.Kind {
		case kindPeer:
			x.peer = max(x.peer, r.OpsPerSec)
		case kindFloor:
			if r.Contender == fencedFloor {
				x.fenced = max(x.fenced, r.OpsPerSec)
			} else {
				x.floor = max(x.floor, r.OpsPerSec)
			}
		}
		out[id] = x
	}
	return out
}

func printTable(w io.Writer, rs []cellResult) {
	ref := references(rs)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "backend\tcontender\tN\tops/s\t÷best peer\t÷floor\tacq p50\tacq p99\trel p99\thandoff p50\thandoff p99\tbusiest/fair\terrors\toverlaps\tCPU/op\t")
	for _, b := range sortedBackends(rs) {
		for _, r := range rs {
			if r.Backend != b {
				continue
			}
			if r.Failed != "" {
				fmt.Fprintf(tw, "%s\t%s\t%d\tFAILED: %s\t\t\t\t\t\t\t\t\t\t\t\t\n", r.Backend, r.Contender, r.N, r.Failed)
				continue
			}
			x := ref[fmt.Sprintf("%s|%d", r.Backend, r.N)]
			vsPeer, vsFloor := "", ""
			if r.Kind != kindPeer {
				vsPeer = ratio(r.OpsPerSec, x.peer)
			}
			if r.Kind != kindFloor {
				vsFloor = ratio(r.OpsPerSec, x.floor)
			}
			fmt.Fprintf(tw, "%s\t%s\t%d\t%.0f\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%.2f\t%d\t%d\t%s\t\n",
				r.Backend, r.Contender, r.N, r.OpsPerSec, vsPeer, vsFloor, us(r.AcqP50us), us(r.AcqP99us), us(r.RelP99us),
				us(r.HandP50us), us(r.HandP99us), r.Fairness, r.Errors, r.Overlaps+r.TokenErrs, us(r.CPUPerOpUs))
		}
	}
	_ = tw.Flush()
}

// printTargets checks the targets on racefree's rows, and returns how
// many cells broke mutual exclusion or fencing.
func printTargets(w io.Writer, rs []cellResult) (bad int) {
	ref := references(rs)
	fmt.Fprintln(w, "\ntargets (racefree rows):")
	line := func(ok bool, format string, a ...any) {
		mark := "ok  "
		if !ok {
			mark = "MISS"
		}
		fmt.Fprintf(w, "  %s %s\n", mark, fmt.Sprintf(format, a...))
	}
	for _, r := range rs {
		if r.Overlaps+r.TokenErrs > 0 {
			bad++
			fmt.Fprintf(w, "  FAIL %s N=%d: %d overlaps, %d non-increasing tokens\n", r.Contender, r.N, r.Overlaps, r.TokenErrs)
		}
		if r.Kind != kindRacefree || r.Failed != "" {
			continue
		}
		x := ref[fmt.Sprintf("%s|%d", r.Backend, r.N)]
		if r.Contender == "racefree/redis" && r.N == 1 && x.floor > 0 {
			line(r.OpsPerSec >= 0.9*x.floor, "%s N=1: %.2f× the floor (≥ 0.90×)", r.Contender, r.OpsPerSec/x.floor)
		}
		if r.Contender == "racefree/redis" && r.N == 1 && x.fenced > 0 {
			fmt.Fprintf(w, "  info %s N=1: %.2f× %s, the floor with the fencing the issue asks for\n", r.Contender, r.OpsPerSec/x.fenced, fencedFloor)
		}
		if r.Backend == "redis×5" && x.peer > 0 {
			line(r.OpsPerSec >= 1.5*x.peer, "%s N=%d: %.2f× redsync (≥ 1.50×)", r.Contender, r.N, r.OpsPerSec/x.peer)
		}
		if r.N >= 8 && r.HandP99us >= 0 {
			limit := 2000.0
			if strings.HasPrefix(r.Backend, "redis") {
				limit = 1000
			}
			line(r.HandP99us <= limit, "%s N=%d: handoff p99 %s (≤ %s)", r.Contender, r.N, us(r.HandP99us), us(limit))
		}
		if r.N > 1 {
			line(r.Fairness <= 1.5, "%s N=%d: busiest contender %.2f× its fair share (≤ 1.50×)", r.Contender, r.N, r.Fairness)
		}
	}
	return bad
}
