package main

import (
	"context"
	"errors"
	"math/rand/v2"
	"slices"
	"strconv"
	"time"

	"github.com/racefree/racefree/cas"
	"github.com/racefree/racefree/examples/internal/workload"
	"github.com/racefree/racefree/lock"
)

// form is one matchmaker forming game with players under some strategy. It
// returns errBusy when one of the players is already in a game.
type form func(ctx context.Context, pool *workload.Claims, keys string, game int, players []int, rec *workload.Recorder) error

var errBusy = errors.New("a player is already in a game")

// run lets every matchmaker form its game at once and counts the players put
// in more than one game.
func (cfg config) run(f form) func(context.Context) (workload.Report, error) {
	return func(ctx context.Context) (workload.Report, error) {
		pool, keys := workload.NewClaims(), workload.Namespace("matchmaking")
		r, err := workload.Run(ctx, cfg.matchmakers, func(ctx context.Context, game int, rec *workload.Recorder) error {
			return rec.Tally(f(ctx, pool, keys, game, cfg.pick(game), rec), errBusy)
		})
		r.Violation, r.Violations = "double-matched", pool.Doubles()
		return r, err
	}
}

// pick returns the players game wants: the same for every run.
func (cfg config) pick(game int) []int {
	return rand.New(rand.NewPCG(uint64(game), 1)).Perm(cfg.players)[:cfg.size]
}

// start puts the players in game once they were all found waiting.
func start(pool *workload.Claims, game int, players []int) {
	for _, p := range players {
		pool.Claim(p, game)
	}
}

func allFree(pool *workload.Claims, players []int) bool {
	for _, p := range players {
		if !pool.Free(p) {
			return false
		}
	}
	return true
}

func playerKey(keys string, p int) string { return keys + "-player-" + strconv.Itoa(p) }

// unprotected checks that every player is waiting, sets the game up and
// starts it.
func unprotected(cfg config) form {
	return func(_ context.Context, pool *workload.Claims, _ string, game int, players []int, _ *workload.Recorder) error {
		if !allFree(pool, players) {
			return errBusy
		}
		time.Sleep(cfg.setup)
		start(pool, game, players)
		return nil
	}
}

// withLocks holds every player's lock while it checks and starts the game.
// lock.DoAll acquires them in sorted key order, so that two matchmakers
// wanting overlapping players cannot deadlock.
func withLocks(cfg config, locker lock.Locker) form {
	return func(ctx context.Context, pool *workload.Claims, keys string, game int, players []int, rec *workload.Recorder) error {
		var lockKeys []string
		for _, p := range players {
			lockKeys = append(lockKeys, playerKey(keys, p))
		}
		asked := time.Now()
		return lock.DoAll(ctx, locker, lockKeys, func(ctx context.Context) error {
			rec.Since(asked)
			if !allFree(pool, players) {
				return errBusy
			}
			time.Sleep(cfg.setup)
			if err := ctx.Err(); err != nil {
				return err // a lock was lost: starting now could put a player in two games
			}
			start(pool, game, players)
			return nil
		}, lock.WithTTL(10*time.Second))
	}
}

// withCAS claims each player by creating their "in game" item; the store
// creates it for one matchmaker only. A matchmaker that finds a player
// claimed gives back the claims it made, so no player is left stranded.
func withCAS(cfg config, store cas.Store) form {
	return func(ctx context.Context, pool *workload.Claims, keys string, game int, players []int, rec *workload.Recorder) error {
		time.Sleep(cfg.setup)
		var claimed []cas.Item
		for _, p := range slices.Sorted(slices.Values(players)) {
			it, err := store.Create(ctx, playerKey(keys, p), strconv.AppendInt(nil, int64(game), 10))
			if err == nil {
				claimed = append(claimed, it)
				continue
			}
			if errors.Is(err, cas.ErrExists) {
				rec.Conflicts(1)
				err = errBusy
			}
			return errors.Join(err, giveBack(ctx, store, claimed))
		}
		start(pool, game, players)
		return nil
	}
}

// giveBack deletes the claims a matchmaker made, each at the version it
// created, so that it never deletes someone else's claim.
func giveBack(ctx context.Context, store cas.Store, claimed []cas.Item) error {
	var errs []error
	for _, it := range claimed {
		errs = append(errs, store.CompareAndDelete(context.WithoutCancel(ctx), it.Key, it.Version))
	}
	return errors.Join(errs...)
}
