// Package workload is the machinery the example programs share: it starts
// many workers at once against one strategy, counts what they did (successes,
// refusals, conflicts, retries, time spent waiting for a lock or a retry),
// and prints one summary line per strategy, so that an unprotected run and a
// protected one can be compared side by side.
//
// A program is a Program: a name and a Setup that registers its flags and
// returns the function that runs its strategies. Main and Exec turn a bad flag
// or an invalid flag value into a clear message and exit code 2.
package workload
