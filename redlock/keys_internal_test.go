package redlock

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/racefree/racefree/internal/testenv"
)

// hashTag is the part of name Redis Cluster hashes: the text between the
// first "{" and the next "}", if not empty; else the whole name.
func hashTag(name string) string {
	open := strings.IndexByte(name, '{')
	if open < 0 {
		return name
	}
	end := strings.IndexByte(name[open+1:], '}')
	if end <= 0 {
		return name
	}
	return name[open+1 : open+1+end]
}

// Every name of one lock hashes to one Cluster slot, so that one script can
// touch the lock, its counter and its queue.
func TestNamesShareHashTag(t *testing.T) {
	for _, key := range []string{"a", "orders:42", "x{y}z", "{a}b}", "a}{b"} {
		n := namesOf(key)
		for _, name := range []string{n.fence, n.queue, n.deadlines, n.channel} {
			if got, want := hashTag(name), hashTag(n.lock); got != want {
				t.Errorf("key %q: %q hashes on %q, the lock %q on %q", key, name, got, n.lock, want)
			}
		}
	}
}

// Undoing a partial quorum grant publishes only where it deleted its own key,
// and only when asked to: a missing key or another owner's key wakes nobody.
func TestQuorumUndoPublishesOnlyForOwnKey(t *testing.T) {
	// A private server: PUBLISH counts of a shared one include others'.
	srv := testenv.StartRedisServer(t)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr})
	t.Cleanup(func() { _ = rdb.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	n := namesOf(testenv.Prefix(t))
	publishes := func() int64 {
		t.Helper()
		stats, err := rdb.Do(ctx, "INFO", "commandstats").Text()
		if err != nil {
			t.Fatal(err)
		}
		return commandCalls(stats, "publish")
	}
	undo := func(token string, announce string) int64 {
		t.Helper()
		v, err := quorumUndoScript.Run(ctx, rdb, []string{n.lock}, token, n.channel, announce).Int64()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}

	before := publishes()
	if undo("mine", "1") != 0 {
		t.Fatal("undo of a missing key reported a deletion")
	}
	if err := rdb.Set(ctx, n.lock, "theirs", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	if undo("mine", "1") != 0 {
		t.Fatal("undo deleted another owner's key")
	}
	if got := publishes() - before; got != 0 {
		t.Fatalf("%d PUBLISH for undos that deleted nothing, want 0", got)
	}
	if err := rdb.Set(ctx, n.lock, "mine", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	if undo("mine", "0") != 1 {
		t.Fatal("undo did not delete its own key")
	}
	if got := publishes() - before; got != 0 {
		t.Fatalf("%d PUBLISH after deleting its own key unannounced, want 0", got)
	}
	if err := rdb.Set(ctx, n.lock, "mine", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	if undo("mine", "1") != 1 {
		t.Fatal("undo did not delete its own key")
	}
	if got := publishes() - before; got != 1 {
		t.Fatalf("%d PUBLISH after deleting its own key announced, want 1", got)
	}
}

// commandCalls reads calls=N of cmdstat_<cmd> from INFO commandstats.
func commandCalls(stats, cmd string) int64 {
	for line := range strings.Lines(stats) {
		rest, ok := strings.CutPrefix(line, "cmdstat_"+cmd+":calls=")
		if !ok {
			continue
		}
		var n int64
		for _, c := range rest {
			if c < '0' || c > '9' {
				break
			}
			n = n*10 + int64(c-'0')
		}
		return n
	}
	return 0
}
