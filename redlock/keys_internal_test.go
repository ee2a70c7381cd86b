package redlock

import (
	"context"
	"fmt"
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
		for _, name := range []string{n.fence, n.queue, n.deadlines, n.wqueue, n.wdeadline} {
			if got, want := hashTag(name), hashTag(n.lock); got != want {
				t.Errorf("key %q: %q hashes on %q, the lock %q on %q", key, name, got, n.lock, want)
			}
		}
	}
}

// Undoing a refused quorum attempt publishes only where it deleted its own
// key, and only to another waiter at the head of the queue: a missing key,
// another owner's key, an empty queue or the caller at the head wakes nobody.
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
	// undo takes back owner token "mine" of waiter "me" (ticket 20), waiting
	// or not.
	undo := func(waiting bool) int64 {
		t.Helper()
		wait := 0
		if waiting {
			wait = 60000
		}
		v, err := quorumUndoScript.Run(ctx, rdb, []string{n.lock, n.wqueue, n.wdeadline}, "mine", "me", 20, wait, wakePrefix).Int64()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	set := func(owner string) {
		t.Helper()
		if err := rdb.Set(ctx, n.lock, owner, time.Minute).Err(); err != nil {
			t.Fatal(err)
		}
	}
	queue := func(id string, ticket float64) {
		t.Helper()
		if err := rdb.ZAdd(ctx, n.wqueue, redis.Z{Score: ticket, Member: id}).Err(); err != nil {
			t.Fatal(err)
		}
		if err := rdb.HSet(ctx, n.wdeadline, id, time.Now().Add(time.Minute).UnixMilli()).Err(); err != nil {
			t.Fatal(err)
		}
	}

	before := publishes()
	if undo(false) != 0 {
		t.Fatal("undo of a missing key reported a deletion")
	}
	set("theirs")
	if undo(false) != 0 {
		t.Fatal("undo deleted another owner's key")
	}
	set("mine")
	if undo(false) != 1 {
		t.Fatal("undo did not delete its own key")
	}
	if got := publishes() - before; got != 0 {
		t.Fatalf("%d PUBLISH for undos that deleted nothing or woke nobody, want 0", got)
	}
	queue("other", 30) // behind "me"
	set("mine")
	if undo(true) != 1 {
		t.Fatal("undo did not delete its own key")
	}
	if got := publishes() - before; got != 0 {
		t.Fatalf("%d PUBLISH after an undo by the head of the queue, want 0", got)
	}
	if ids, err := rdb.ZRange(ctx, n.wqueue, 0, -1).Result(); err != nil || len(ids) != 2 || ids[0] != "me" {
		t.Fatalf("queue after a waiting caller's undo = %v (%v), want [me other]", ids, err)
	}
	queue("first", 10) // before "me"
	set("mine")
	if undo(true) != 1 {
		t.Fatal("undo did not delete its own key")
	}
	if got := publishes() - before; got != 1 {
		t.Fatalf("%d PUBLISH after an undo with another waiter at the head, want 1", got)
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

// The scripts take a waiter's Locker id from the first idLen characters of
// its token, and waiterToken puts it there.
func TestScriptsReadTheHubIDLength(t *testing.T) {
	want := fmt.Sprintf("string.sub(head, 1, %d)", idLen)
	for name, src := range map[string]string{"queue.lua": queueSrc, "quorum_queue.lua": quorumQueueSrc, "quorum_acquire.lua": quorumAcquireSrc} {
		if !strings.Contains(src, want) {
			t.Errorf("%s does not take the Locker id as %s", name, want)
		}
	}
	h := newHub(nil, 1)
	if tok := h.waiterToken(); len(h.id) != idLen || !strings.HasPrefix(tok, h.id) || len(tok) <= idLen {
		t.Errorf("hub id %q (want %d characters), waiter token %q (want it to start with the id)", h.id, idLen, tok)
	}
}
