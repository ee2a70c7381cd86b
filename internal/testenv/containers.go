package testenv

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync"
	"time"

	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
)

// shared is a backend's container, started once per test binary on first use.
type shared struct {
	start func(ctx context.Context) (string, error)
	once  sync.Once
	ep    string
	err   error
}

// get starts the container on the first call and returns its endpoint.
func (s *shared) get() (string, error) {
	s.once.Do(func() {
		if err := dockerEngine(); err != nil {
			s.err = err
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
		defer cancel()
		s.ep, s.err = s.start(ctx)
		if s.err != nil {
			s.err = fmt.Errorf("testcontainers: %w", s.err)
		}
	})
	return s.ep, s.err
}

var (
	dockerOnce sync.Once
	dockerErr  error
)

// dockerEngine reports whether a Docker engine answers. It first sets the
// testcontainers variables this project needs unless the caller set them:
// TESTCONTAINERS_HOST_OVERRIDE=localhost (else testcontainers may dial a gateway
// address instead of loopback) and TESTCONTAINERS_RYUK_DISABLED=true (the reaper
// image may not be pullable; testenv removes its containers itself, see track).
func dockerEngine() error {
	dockerOnce.Do(func() {
		for k, v := range map[string]string{
			"TESTCONTAINERS_HOST_OVERRIDE": "localhost",
			"TESTCONTAINERS_RYUK_DISABLED": "true",
		} {
			if _, ok := os.LookupEnv(k); !ok {
				_ = os.Setenv(k, v)
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		cli, err := testcontainers.NewDockerClientWithOpts(ctx)
		if err != nil {
			dockerErr = fmt.Errorf("no Docker engine answers: %w", err)
			return
		}
		defer func() { _ = cli.Close() }()
		if _, err := cli.Ping(ctx, client.PingOptions{}); err != nil {
			dockerErr = fmt.Errorf("no Docker engine answers: %w", err)
		}
	})
	return dockerErr
}

// The shared containers outlive every single test, so they cannot be removed in a
// test's clean-up. A reaper does it instead: a copy of the test binary, started on
// the first container, that reads container IDs on its standard input and removes
// them all when that input closes, that is when the test binary exits, however it
// exits.
const reaperVar = "RACEFREE_TESTENV_REAPER"

var reaper struct {
	sync.Mutex
	w   io.WriteCloser
	err error
}

func init() {
	if os.Getenv(reaperVar) == "1" {
		os.Exit(reap(os.Stdin))
	}
}

// track hands a container to the reaper.
func track(id string) error {
	reaper.Lock()
	defer reaper.Unlock()
	if reaper.w == nil && reaper.err == nil {
		reaper.w, reaper.err = startReaper()
	}
	if reaper.err != nil {
		return fmt.Errorf("container %s will not be removed: %w", id, reaper.err)
	}
	_, err := fmt.Fprintln(reaper.w, id)
	return err
}

func startReaper() (io.WriteCloser, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), reaperVar+"=1")
	detach(cmd) // survives the test binary and a Ctrl-C to its process group
	w, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	return w, nil // the pipe stays open until this process exits
}

// reap removes every container named on r once r closes.
func reap(r io.Reader) int {
	var ids []string
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		ids = append(ids, sc.Text())
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cli, err := testcontainers.NewDockerClientWithOpts(ctx)
	if err != nil {
		return 1
	}
	defer func() { _ = cli.Close() }()
	var errs []error
	for _, id := range ids {
		_, err := cli.ContainerRemove(ctx, id, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true})
		errs = append(errs, err)
	}
	if errors.Join(errs...) != nil {
		return 1
	}
	return 0
}

// hostPort returns "host:port" of a container's exposed port.
func hostPort(ctx context.Context, c testcontainers.Container, port string) (string, error) {
	return c.PortEndpoint(ctx, port, "")
}

// startGeneric runs a generic container, hands it to the reaper and returns it.
func startGeneric(ctx context.Context, req testcontainers.ContainerRequest) (testcontainers.Container, error) {
	c, err := testcontainers.GenericContainer(ctx, testcontainers.GenericContainerRequest{ContainerRequest: req, Started: true})
	if c != nil {
		if terr := track(c.GetContainerID()); terr != nil && err == nil {
			err = terr
		}
	}
	return c, err
}
