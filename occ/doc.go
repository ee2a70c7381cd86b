// Package occ is optimistic concurrency control: read, compute, and write back
// only if nobody wrote in between.
//
// Over any cas.Store, Update reads an item, lets a function compute its new
// value, and writes it back with CompareAndSwap, so a write made by someone
// else in between is never overwritten. On a conflict it reads again and
// retries, after a jittered exponential backoff, up to a bounded number of
// attempts, and reports what it did in Stats.
//
// Over your own SQL tables, Table.Update runs
// `UPDATE t SET ..., version = version + 1 WHERE id = ? AND version = ?` and
// turns "no row matched" into cas.ErrConflict when the version moved and
// cas.ErrNotFound when the row is gone, instead of silence; Retry runs such a
// read-modify-write with the same attempts and backoff as Update.
//
// Use it where conflicts are rare (a seat that few buyers want at the same
// instant, a profile edit); where many writers fight over one key all the
// time, a lock (package lock) wastes less work.
package occ
