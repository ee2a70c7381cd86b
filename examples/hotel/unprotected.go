package main

import (
	"context"
	"time"

	"github.com/racefree/racefree/examples/internal/workload"
)

// unprotected books in a plain table: check the slot is free, think, insert.
// Guests who check before either inserts both get the room, and a retried
// request runs the whole thing again (here it finds its own booking; had
// it inserted without checking, it would book twice).
func (cfg config) unprotected(ctx context.Context) (workload.Report, error) {
	table := workload.NewClaims()
	book := func(slot, guest int) bool {
		if !table.Free(slot) {
			return false
		}
		time.Sleep(cfg.think)
		table.Claim(slot, guest)
		return true
	}
	r, err := workload.Run(ctx, cfg.guests, func(ctx context.Context, guest int, rec *workload.Recorder) error {
		room, night := cfg.slot(guest)
		slot := room*cfg.nights + night
		if !book(slot, guest) {
			rec.Refused()
			return nil
		}
		rec.OK()
		rec.Retries(1) // the response was lost: the guest sends it again
		book(slot, guest)
		return nil
	})
	r.Violation, r.Violations = "double-booked", table.Doubles()
	return r, err
}
