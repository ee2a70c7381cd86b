// Package occ is optimistic concurrency control over any cas.Store: Update
// reads an item, lets a function compute its new value, and writes it back
// with CompareAndSwap, so a write made by someone else in between is never
// overwritten. On a conflict it reads again and retries, after a jittered
// exponential backoff, up to a bounded number of attempts, and reports what it
// did in Stats.
//
// Use it where conflicts are rare (a seat that few buyers want at the same
// instant, a profile edit); where many writers fight over one key all the
// time, a lock (package lock) wastes less work.
package occ
