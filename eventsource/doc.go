// Package eventsource keeps state as streams of events over any cas.Store, the
// write side of CQRS:
//
//   - Append adds events to a stream only if the stream is still at the
//     version the caller expects; a concurrent append makes it fail with
//     ErrConflict, never overwrite.
//   - Handle runs a command against an aggregate: it rebuilds the aggregate's
//     state from its snapshot and events, lets a decision function turn the
//     command into events, appends them, and retries on conflict. A command
//     carries an id and takes effect at most once: retried, it returns the
//     events of its first success.
//   - A Projector folds every stream into a read model asynchronously. The
//     read model and the per-stream checkpoints are saved together in one
//     compare-and-swap, so a projector that crashes resumes exactly where its
//     last save left off, skipping nothing and applying nothing twice.
//
// # Layout
//
// Each append writes one item, `<prefix>/s/<stream>/<n>` for the n-th batch
// of the stream, with Create: the store's atomic create is the commit point,
// so a batch is either wholly there or not at all. Snapshots live under
// `<prefix>/snap/<stream>`, the list of streams under `<prefix>/streams`, and
// read models under `<prefix>/proj/<name>`.
//
// The list of streams is one item, and so is each read model: this suits a
// few thousand streams per prefix. Use one prefix per aggregate type or tenant
// to go further.
package eventsource
