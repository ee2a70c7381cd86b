package dynamocas

import (
	"context"
	"errors"
	"net"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
)

// refusedCodes are the error codes with which DynamoDB refuses a request
// without applying it: throttling and a conflict with a transaction in
// progress on the item.
var refusedCodes = map[string]bool{
	"ProvisionedThroughputExceededException": true,
	"ThrottlingException":                    true,
	"RequestLimitExceeded":                   true,
	"TransactionConflictException":           true,
}

// notApplied reports whether err says for certain that a write was not
// applied: the connection could not be dialed, so the request was never
// sent, or DynamoDB itself refused it: a 400 with one of DynamoDB's error
// codes (throttled, not allowed, invalid), which it answers before writing
// anything. Any other failure after the request may have been sent — a
// connection reset, a timeout, a lost or unreadable response, a 5xx, a 4xx
// without DynamoDB's code (a proxy's 408 after it forwarded the request,
// say) — leaves the outcome unknown.
func notApplied(err error) bool {
	if neverSent(err) {
		return true
	}
	var status interface{ HTTPStatusCode() int }
	if !errors.As(err, &status) || status.HTTPStatusCode() != 400 {
		return false
	}
	var coded interface{ ErrorCode() string }
	if !errors.As(err, &coded) {
		return false
	}
	code := coded.ErrorCode()
	return code != "" && code != "UnknownError"
}

// retrySafe reports whether a failed write may be sent again: it was not
// applied, and it may pass by itself (a failed dial, or a refusal of
// refusedCodes); a request DynamoDB refused as not allowed or invalid would
// only be refused again.
func retrySafe(err error) bool {
	if neverSent(err) {
		return true
	}
	var coded interface{ ErrorCode() string }
	return notApplied(err) && errors.As(err, &coded) && refusedCodes[coded.ErrorCode()]
}

// neverSent reports whether err is a failed dial: the request never left.
func neverSent(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// writeRetries is the per-call option of every conditional UpdateItem: the
// client's retryer retries only the failures retrySafe vouches for. A
// conditional write sent again after a response was lost would fail its own
// condition, the first attempt having changed the item, and be reported as a
// refusal of a write that succeeded.
func writeRetries(o *dynamodb.Options) {
	if o.Retryer == nil {
		o.Retryer = aws.NopRetryer{}
		return
	}
	o.Retryer = unappliedOnly{base: o.Retryer}
}

// unappliedOnly is a retryer that keeps base's attempts, backoff and retry
// quota but retries only what base retries and retrySafe allows.
type unappliedOnly struct {
	base aws.Retryer
}

var _ aws.RetryerV2 = unappliedOnly{}

// IsErrorRetryable implements aws.Retryer.
func (r unappliedOnly) IsErrorRetryable(err error) bool {
	return retrySafe(err) && r.base.IsErrorRetryable(err)
}

// MaxAttempts implements aws.Retryer.
func (r unappliedOnly) MaxAttempts() int { return r.base.MaxAttempts() }

// RetryDelay implements aws.Retryer.
func (r unappliedOnly) RetryDelay(attempt int, err error) (time.Duration, error) {
	return r.base.RetryDelay(attempt, err)
}

// GetRetryToken implements aws.Retryer.
func (r unappliedOnly) GetRetryToken(ctx context.Context, opErr error) (func(error) error, error) {
	return r.base.GetRetryToken(ctx, opErr)
}

// GetInitialToken implements aws.Retryer.
func (r unappliedOnly) GetInitialToken() func(error) error { return r.base.GetInitialToken() }

// GetAttemptToken implements aws.RetryerV2.
func (r unappliedOnly) GetAttemptToken(ctx context.Context) (func(error) error, error) {
	if v2, ok := r.base.(aws.RetryerV2); ok {
		return v2.GetAttemptToken(ctx)
	}
	return r.base.GetInitialToken(), nil
}
