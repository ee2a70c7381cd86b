// Package dynamocas is a cas.Store on Amazon DynamoDB conditional writes.
//
// Every write is one UpdateItem whose ConditionExpression names the version
// the caller read, so the server decides atomically whether the write
// applies. When a condition fails, the item the condition saw
// (ReturnValuesOnConditionCheckFailure = ALL_OLD, returned in
// types.ConditionalCheckFailedException.Item) tells a stale version
// (cas.ErrConflict) from a missing or deleted item (cas.ErrNotFound) without
// another request. Where the exception carries no item — the key never
// existed, or the server predates that parameter (dynalite 4.0.0 accepts it
// but never returns the item) — the Store reads the item once with a strongly
// consistent GetItem and decides from that. That read is not a race: a
// refused write changed nothing, so it can take effect at the instant of the
// read; if the read finds the very version the write asked for (someone
// re-created the item in between), the write is tried again.
//
// # Retries and lost responses
//
// A conditional write must not be sent twice: if DynamoDB applied it and the
// response was lost (a connection reset, a timeout, a 500), a second attempt
// fails its own condition, the first having changed the item, and would be
// reported as ErrExists, ErrConflict or ErrNotFound for a write that
// succeeded — and occ.Update, reading its own write back, would apply its
// function twice. So every UpdateItem runs with the client's retryer (its
// attempts, backoff and retry quota) narrowed to the failures that DynamoDB
// certainly did not apply: a connection that could not be dialed, and the
// refusals ProvisionedThroughputExceededException, ThrottlingException and
// RequestLimitExceeded (and TransactionConflictException, if the client's
// retryer retries it). GetItem keeps the client's retryer as it is.
//
// A write whose outcome is unknown — its request may have reached DynamoDB,
// but no answer did — returns an error that wraps cas.ErrOutcomeUnknown and
// none of cas.ErrExists, cas.ErrConflict and cas.ErrNotFound; the caller
// finds out with Get. Likewise a write whose
// context ends while in flight may or may not have happened.
//
// Reads are strongly consistent (ConsistentRead). Values are limited to
// MaxValueSize bytes so that an item with the longest key stays within
// DynamoDB's 400 KB item size limit; a larger value is refused with
// cas.ErrValueTooLarge before any request.
//
// # Table layout
//
// One table, any name, with a string partition key "pk" and no sort key
// (CreateTable makes it, billed per request). Each item is:
//
//	pk   S     the key (1 to MaxKeyLen bytes of UTF-8)
//	ver  N     the version: 1 after the first Create, +1 per write
//	val  B     the value; absent when the value is empty or the item deleted
//	del  BOOL  present (true) on a tombstone: a deleted key that keeps its
//	           version, so that a later Create continues after it (no ABA)
//
// Tombstones are never removed by the Store. Other attributes on an item are
// left alone.
package dynamocas
