// Package cas is racefree's portable versioned compare-and-swap API: the Store
// contract, the input validation every Store shares, an in-memory Store and a
// typed (generic) layer over any Store.
//
// A Store keeps items, each a key, a value and a version. Create writes version
// 1; every successful write adds one. CompareAndSwap and CompareAndDelete
// succeed only when the caller names the current version, so a caller who read
// an item, computed a new value and writes it back can never overwrite a write
// it did not see: it gets ErrConflict and reads again (package occ runs that
// loop). A missing item is ErrNotFound, never ErrConflict, on every backend.
//
// Versions never go backwards for a key. A deleted key leaves a tombstone that
// remembers its last version, and a key created again continues after it, so a
// version read before the delete can never match again (no ABA).
//
// Adapters (sqlcas, dynamocas, mongocas) implement Store over their backend,
// call ValidateKey and ValidateValue before any I/O, return the sentinel
// errors wrapped together with the native error, and pass the conformance
// suite in package castest.
package cas
