// Package mongocas is a cas.Store on a MongoDB collection, with conditional
// single-document writes: the version the caller read is part of the update's
// filter, so the server applies the write only to the item the caller saw.
//
// # Document layout
//
// One document per key, in any collection:
//
//	_id  string  the key
//	v    int64   the version: 1 after the first Create, +1 per write
//	val  binary  the value; absent on a tombstone
//	del  bool    false while live; true on a tombstone, a deleted key that
//	             keeps its version so that a later Create continues after it
//
// Tombstones are never removed by the Store (a TTL index on them would bring
// ABA back). Other fields of a document are left alone.
//
// # Operations
//
// Create is one findOneAndUpdate with upsert, filtered on {_id, del ≠ false}:
// it revives a tombstone (incrementing its version) or inserts version 1, and
// when the key is live the upsert's insert hits the unique _id index, whose
// duplicate-key error becomes cas.ErrExists. CompareAndSwap and
// CompareAndDelete are single updates filtered on {_id, v, del: false}.
//
// When such an update matches nothing, the Store must tell a stale version
// (cas.ErrConflict) from a missing item (cas.ErrNotFound). By default it reads
// the document once, from the primary: the refused write had no effect, so it
// takes effect at that read, which keeps the outcome linearizable; if the read
// finds the key live at the very version asked for (it was re-created in
// between), the write is tried again. With WithPipelineUpdates the write is
// instead an update with an aggregation pipeline that always matches the
// document, applies the change only when the version matches, and returns the
// document it saw: the outcome in one atomic request (MongoDB 4.2 and later).
//
// # Version log
//
// WithVersionLog stores the history of each key instead: every write inserts
// a new record {_id: key NUL seq, k: key, s: seq, v, val, del}, the newest
// record (highest s) being the item. A write reads the newest record, checks
// it (live at the caller's version, or a tombstone for Create) and inserts
// the record that follows it; the unique _id lets only one writer insert
// seq+1, so the write applies only if nothing happened since the read — with
// no conditional update at all. A lost insert is decided from the record that
// won. Superseded records lose their value (when over 1 KiB) but are kept
// for ever: removing them would let a writer paused since its read insert a
// sequence number again (ABA). CreateIndexes makes the index the reads need.
//
// # FerretDB
//
// FerretDB v1 (the test server) runs update and findAndModify as a query
// followed by an unconditional write by _id, outside one transaction
// (FerretDB/FerretDB#3040): two concurrent updates filtered on the same
// version both match and both succeed. Version-filtered updates are
// therefore not atomic there, and only the version log, which relies on
// inserts alone, is a correct Store on FerretDB v1; the default mode is
// correct on MongoDB, where single-document writes are atomic. FerretDB also
// answers NotImplemented to update pipelines (WithPipelineUpdates) and to
// projections in findAndModify (so Create reads the whole document back). It
// has no TTL indexes and no multi-document transactions; the Store uses
// neither. It accepts read and write concerns and ignores them (one node).
package mongocas
