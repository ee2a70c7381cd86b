package mongocas

import (
	"context"
	"errors"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.mongodb.org/mongo-driver/v2/mongo/readconcern"
	"go.mongodb.org/mongo-driver/v2/mongo/readpref"
	"go.mongodb.org/mongo-driver/v2/mongo/writeconcern"

	"github.com/racefree/racefree/cas"
)

// Field names of the document layout (see the package documentation).
const (
	FieldVersion = "v"
	FieldValue   = "val"
	FieldDeleted = "del"
)

// MaxKeyLen is the longest key in bytes.
const MaxKeyLen = cas.DefaultMaxKeyLen

// MaxValueSize is the largest value in bytes, well within MongoDB's 16 MiB
// document limit.
const MaxValueSize = cas.DefaultMaxValueSize

// maxDecideAttempts bounds the retries of a write refused by its filter
// whose outcome the read afterwards could not explain.
const maxDecideAttempts = 3

var errNilCollection = errors.New("mongocas: nil *mongo.Collection")

// Store is a cas.Store on one MongoDB collection. It is safe for concurrent
// use.
type Store struct {
	coll     *mongo.Collection
	pipeline bool
	log      bool
	wc       *writeconcern.WriteConcern
	rc       *readconcern.ReadConcern
}

var _ cas.Store = (*Store)(nil)

// Option configures a Store.
type Option func(*Store)

// WithWriteConcern sets the write concern of every write, for example
// writeconcern.Majority(), so that an acknowledged write survives the
// failover of a replica set. Default: the collection's.
func WithWriteConcern(wc *writeconcern.WriteConcern) Option {
	return func(s *Store) { s.wc = wc }
}

// WithReadConcern sets the read concern of Get and of the read that decides a
// refused write, for example readconcern.Majority(), or
// readconcern.Linearizable() for reads that reflect every write acknowledged
// with a majority write concern before the read began. Default: the
// collection's. Reads always go to the primary.
func WithReadConcern(rc *readconcern.ReadConcern) Option {
	return func(s *Store) { s.rc = rc }
}

// WithPipelineUpdates makes CompareAndSwap and CompareAndDelete tell a stale
// version from a missing item in the same atomic request as the write, with
// an update pipeline (MongoDB 4.2 and later; FerretDB v1 does not support it),
// instead of a read after a refused write.
func WithPipelineUpdates() Option {
	return func(s *Store) { s.pipeline = true }
}

// WithVersionLog stores every write as a new, never updated record (see
// "Version log" in the package documentation) instead of updating one
// document per key. Every operation is then decided by the uniqueness of
// _id alone, which makes the Store atomic on servers whose conditional
// updates are not, such as FerretDB v1. It costs a read before each write
// and one small record per write, kept for ever. It ignores
// WithPipelineUpdates, and needs its own collection.
func WithVersionLog() Option {
	return func(s *Store) { s.log = true }
}

// New returns a Store on coll. It does no I/O. A nil coll makes every call
// fail with a clear error.
func New(coll *mongo.Collection, opts ...Option) *Store {
	s := &Store{}
	for _, o := range opts {
		o(s)
	}
	if coll != nil {
		co := options.Collection().SetReadPreference(readpref.Primary())
		if s.wc != nil {
			co.SetWriteConcern(s.wc)
		}
		if s.rc != nil {
			co.SetReadConcern(s.rc)
		}
		s.coll = coll.Clone(co)
	}
	return s
}

// doc is a stored document.
type doc struct {
	Version int64  `bson:"v"`
	Value   []byte `bson:"val"`
	Deleted *bool  `bson:"del"`
}

// live reports whether d is an item written by a Store and not deleted.
func (d doc) live() bool { return d.Deleted != nil && !*d.Deleted && d.Version > 0 }

// Get implements cas.Store.
func (s *Store) Get(ctx context.Context, key string) (cas.Item, error) {
	if err := s.check(ctx, key, nil); err != nil {
		return cas.Item{}, err
	}
	var d doc
	var found bool
	var err error
	if s.log {
		var r record
		r, found, err = s.latest(ctx, key)
		d = r.doc()
	} else {
		d, found, err = s.read(ctx, key)
	}
	if err != nil {
		return cas.Item{}, s.fail(ctx, "get", key, err)
	}
	if !found || !d.live() {
		return cas.Item{}, fmt.Errorf("mongocas: get %q: %w", key, cas.ErrNotFound)
	}
	return cas.Item{Key: key, Value: append([]byte{}, d.Value...), Version: uint64(d.Version)}, nil
}

// read returns the document of key, if there is one.
func (s *Store) read(ctx context.Context, key string) (doc, bool, error) {
	var d doc
	err := s.coll.FindOne(ctx, bson.D{{Key: "_id", Value: key}}).Decode(&d)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return doc{}, false, nil
	}
	return d, err == nil, err
}

// Create implements cas.Store: one findOneAndUpdate with upsert that revives
// a tombstone or inserts version 1; the duplicate-key error of a live key is
// cas.ErrExists.
func (s *Store) Create(ctx context.Context, key string, value []byte) (cas.Item, error) {
	if err := s.check(ctx, key, value); err != nil {
		return cas.Item{}, err
	}
	if s.log {
		return s.logCreate(ctx, key, value)
	}
	filter := bson.D{{Key: "_id", Value: key}, {Key: FieldDeleted, Value: bson.D{{Key: "$ne", Value: false}}}}
	update := bson.D{
		{Key: "$set", Value: bson.D{{Key: FieldValue, Value: binary(value)}, {Key: FieldDeleted, Value: false}}},
		{Key: "$inc", Value: bson.D{{Key: FieldVersion, Value: int64(1)}}},
	}
	var d doc
	err := s.coll.FindOneAndUpdate(ctx, filter, update,
		options.FindOneAndUpdate().SetUpsert(true).SetReturnDocument(options.After)).Decode(&d)
	if mongo.IsDuplicateKeyError(err) {
		return cas.Item{}, fmt.Errorf("mongocas: create %q: %w: %w", key, cas.ErrExists, err)
	}
	if err != nil {
		return cas.Item{}, s.fail(ctx, "create", key, err)
	}
	return cas.Item{Key: key, Value: append([]byte{}, value...), Version: uint64(d.Version)}, nil
}

// CompareAndSwap implements cas.Store.
func (s *Store) CompareAndSwap(ctx context.Context, key string, version uint64, value []byte) (cas.Item, error) {
	if err := s.check(ctx, key, value); err != nil {
		return cas.Item{}, err
	}
	if s.log {
		return s.logWrite(ctx, "compare-and-swap", key, version, value, false)
	}
	set := bson.D{{Key: "$set", Value: bson.D{{Key: FieldValue, Value: binary(value)}, {Key: FieldVersion, Value: int64(version + 1)}}}}
	pipe := changeIf(version, bson.E{Key: FieldValue, Value: bson.D{{Key: "$literal", Value: binary(value)}}},
		bson.E{Key: FieldVersion, Value: int64(version + 1)})
	if err := s.conditional(ctx, "compare-and-swap", key, version, set, pipe); err != nil {
		return cas.Item{}, err
	}
	return cas.Item{Key: key, Value: append([]byte{}, value...), Version: version + 1}, nil
}

// CompareAndDelete implements cas.Store: the document becomes a tombstone
// that keeps its version.
func (s *Store) CompareAndDelete(ctx context.Context, key string, version uint64) error {
	if err := s.check(ctx, key, nil); err != nil {
		return err
	}
	if s.log {
		_, err := s.logWrite(ctx, "compare-and-delete", key, version, nil, true)
		return err
	}
	set := bson.D{
		{Key: "$set", Value: bson.D{{Key: FieldDeleted, Value: true}}},
		{Key: "$unset", Value: bson.D{{Key: FieldValue, Value: ""}}},
	}
	pipe := changeIf(version, bson.E{Key: FieldDeleted, Value: true}, bson.E{Key: FieldValue, Value: "$$REMOVE"})
	return s.conditional(ctx, "compare-and-delete", key, version, set, pipe)
}

// binary is value as BSON binary; an empty value is stored as empty binary.
func binary(value []byte) bson.Binary {
	return bson.Binary{Subtype: bson.TypeBinaryGeneric, Data: append([]byte{}, value...)}
}

// check is the validation every call starts with.
func (s *Store) check(ctx context.Context, key string, value []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if s == nil || s.coll == nil {
		return errNilCollection
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
		return fmt.Errorf("mongocas: %s %q: %w: %w", op, key, ctxErr, err)
	}
	return fmt.Errorf("mongocas: %s %q in %s: %w", op, key, s.coll.Name(), err)
}
