package dynamocas

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/racefree/racefree/cas"
)

// Attribute names of the table layout (see the package documentation).
const (
	AttrKey     = "pk"
	AttrVersion = "ver"
	AttrValue   = "val"
	AttrDeleted = "del"
)

// MaxKeyLen is the longest key in bytes: DynamoDB's limit for a partition key.
const MaxKeyLen = 2048

// MaxItemSize is DynamoDB's item size limit in bytes (400 KB), which counts
// attribute names and values.
const MaxItemSize = 400 * 1024

// itemOverhead bounds what an item holds besides its key and value bytes:
// the attribute names (pk, ver, val, del), a version number of up to 21
// bytes, the deleted flag, and room for a fence number of another package.
const itemOverhead = 128

// MaxValueSize is the largest value in bytes: what is left of MaxItemSize
// for a key of MaxKeyLen bytes and the other attributes.
const MaxValueSize = MaxItemSize - MaxKeyLen - itemOverhead

// maxDecideAttempts bounds the retries of a write whose failed condition
// could not be explained by the item read afterwards.
const maxDecideAttempts = 3

var errNilClient = errors.New("dynamocas: nil *dynamodb.Client")

// Store is a cas.Store on one DynamoDB table. It is safe for concurrent use.
type Store struct {
	client *dynamodb.Client
	table  string
}

var _ cas.Store = (*Store)(nil)

// Option configures a Store. There are none yet; the parameter keeps New
// stable as options are added.
type Option func(*Store)

// New returns a Store on table, which must have the layout CreateTable makes.
// It does no I/O. A nil client or an empty table name make every call fail
// with a clear error.
func New(client *dynamodb.Client, table string, opts ...Option) *Store {
	s := &Store{client: client, table: table}
	for _, o := range opts {
		o(s)
	}
	return s
}

// Get implements cas.Store with a strongly consistent GetItem.
func (s *Store) Get(ctx context.Context, key string) (cas.Item, error) {
	if err := s.check(ctx, key, nil); err != nil {
		return cas.Item{}, err
	}
	out, err := s.client.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(s.table),
		Key:            keyOf(key),
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return cas.Item{}, s.fail(ctx, "get", key, err)
	}
	st, err := decode(out.Item)
	if err != nil {
		return cas.Item{}, fmt.Errorf("dynamocas: get %q: %w", key, err)
	}
	if !st.live {
		return cas.Item{}, fmt.Errorf("dynamocas: get %q: %w", key, cas.ErrNotFound)
	}
	return cas.Item{Key: key, Value: st.value, Version: st.version}, nil
}

// Create implements cas.Store: one UpdateItem that applies only where the
// item does not exist or is a tombstone, and continues after its version.
func (s *Store) Create(ctx context.Context, key string, value []byte) (cas.Item, error) {
	if err := s.check(ctx, key, value); err != nil {
		return cas.Item{}, err
	}
	in := &dynamodb.UpdateItemInput{
		TableName:                           aws.String(s.table),
		Key:                                 keyOf(key),
		ConditionExpression:                 aws.String("attribute_not_exists(#v) OR #d = :true"),
		ReturnValues:                        types.ReturnValueUpdatedOld,
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
		ExpressionAttributeNames:            map[string]string{"#v": AttrVersion, "#d": AttrDeleted},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":true": &types.AttributeValueMemberBOOL{Value: true},
			":zero": number(0),
			":one":  number(1),
		},
	}
	setValue(in, value, "SET #v = if_not_exists(#v, :zero) + :one", "#d")
	out, err := s.client.UpdateItem(ctx, in, writeRetries)
	if err != nil {
		var ccf *types.ConditionalCheckFailedException
		if errors.As(err, &ccf) {
			return cas.Item{}, fmt.Errorf("dynamocas: create %q: %w%s: %w", key, cas.ErrExists, versionNote(ccf.Item), err)
		}
		return cas.Item{}, s.failWrite(ctx, "create", key, err)
	}
	old, err := decode(out.Attributes)
	if err != nil {
		return cas.Item{}, fmt.Errorf("dynamocas: create %q: %w", key, err)
	}
	return cas.Item{Key: key, Value: clone(value), Version: old.version + 1}, nil
}

// CompareAndSwap implements cas.Store: one UpdateItem conditioned on the
// version and on the item being live.
func (s *Store) CompareAndSwap(ctx context.Context, key string, version uint64, value []byte) (cas.Item, error) {
	if err := s.check(ctx, key, value); err != nil {
		return cas.Item{}, err
	}
	err := s.conditional(ctx, "compare-and-swap", key, version, func() error {
		in := s.versioned(key, version)
		setValue(in, value, "SET #v = :next")
		_, err := s.client.UpdateItem(ctx, in, writeRetries)
		return err
	})
	if err != nil {
		return cas.Item{}, err
	}
	return cas.Item{Key: key, Value: clone(value), Version: version + 1}, nil
}

// CompareAndDelete implements cas.Store: the item becomes a tombstone that
// keeps its version, in one UpdateItem conditioned like CompareAndSwap.
func (s *Store) CompareAndDelete(ctx context.Context, key string, version uint64) error {
	if err := s.check(ctx, key, nil); err != nil {
		return err
	}
	return s.conditional(ctx, "compare-and-delete", key, version, func() error {
		in := s.versioned(key, version)
		in.UpdateExpression = aws.String("SET #d = :true REMOVE #val")
		in.ExpressionAttributeNames["#val"] = AttrValue
		delete(in.ExpressionAttributeValues, ":next")
		in.ExpressionAttributeValues[":true"] = &types.AttributeValueMemberBOOL{Value: true}
		_, err := s.client.UpdateItem(ctx, in, writeRetries)
		return err
	})
}

// versioned is an UpdateItem on key that applies only to a live item at
// version; the caller sets the update expression.
func (s *Store) versioned(key string, version uint64) *dynamodb.UpdateItemInput {
	return &dynamodb.UpdateItemInput{
		TableName:                           aws.String(s.table),
		Key:                                 keyOf(key),
		ConditionExpression:                 aws.String("#v = :version AND attribute_not_exists(#d)"),
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
		ExpressionAttributeNames:            map[string]string{"#v": AttrVersion, "#d": AttrDeleted},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":version": number(version),
			":next":    number(version + 1),
		},
	}
}

// setValue sets in's update expression to set plus the value, and REMOVE of
// the attributes named by remove: the value is SET when not empty and
// removed when empty (an empty value is stored as no attribute).
func setValue(in *dynamodb.UpdateItemInput, value []byte, set string, remove ...string) {
	in.ExpressionAttributeNames["#val"] = AttrValue
	if len(value) > 0 {
		set += ", #val = :val"
		in.ExpressionAttributeValues[":val"] = &types.AttributeValueMemberB{Value: value}
	} else {
		remove = append(remove, "#val")
	}
	if len(remove) > 0 {
		set += " REMOVE " + strings.Join(remove, ", ")
	}
	in.UpdateExpression = aws.String(set)
}

func keyOf(key string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{AttrKey: &types.AttributeValueMemberS{Value: key}}
}

func number(n uint64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatUint(n, 10)}
}

// check is the validation every call starts with.
func (s *Store) check(ctx context.Context, key string, value []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	switch {
	case s == nil || s.client == nil:
		return errNilClient
	case s.table == "":
		return errors.New("dynamocas: empty table name")
	}
	if err := cas.ValidateKey(key, MaxKeyLen); err != nil {
		return err
	}
	return cas.ValidateValue(value, MaxValueSize)
}

// fail wraps a request error; a done context's error stays reachable with
// errors.Is.
func (s *Store) fail(ctx context.Context, op, key string, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil && !errors.Is(err, ctxErr) {
		return fmt.Errorf("dynamocas: %s %q: %w: %w", op, key, ctxErr, err)
	}
	return fmt.Errorf("dynamocas: %s %q in table %s: %w", op, key, s.table, err)
}

// failWrite wraps the error of a write that DynamoDB did not refuse with a
// failed condition. Unless notApplied vouches that the write was not
// applied, the request may have been applied with its response lost, and the
// error wraps cas.ErrOutcomeUnknown; it wraps none of cas.ErrExists,
// cas.ErrConflict and cas.ErrNotFound either way.
func (s *Store) failWrite(ctx context.Context, op, key string, err error) error {
	if !notApplied(err) {
		err = fmt.Errorf("%w, the write may or may not have been applied: %w", cas.ErrOutcomeUnknown, err)
	}
	return s.fail(ctx, op, key, err)
}

func clone(b []byte) []byte { return append([]byte{}, b...) }
