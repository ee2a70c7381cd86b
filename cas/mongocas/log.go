package mongocas

import (
	"context"
	"errors"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/racefree/racefree/cas"
)

// Field names of the version log (see the package documentation).
const (
	FieldLogKey = "k"
	FieldLogSeq = "s"
)

// maxCreateAttempts bounds the reads and inserts of one Create in the
// version log while other writers keep winning.
const maxCreateAttempts = 50

// keepValue is the size up to which a superseded entry keeps its value: a
// larger one costs an extra request per write to remove.
const keepValue = 1024

// record is one entry of the version log: the state of key after write
// number seq.
type record struct {
	Key     string `bson:"k"`
	Seq     int64  `bson:"s"`
	Version int64  `bson:"v"`
	Value   []byte `bson:"val"`
	Deleted *bool  `bson:"del"`
}

// doc is the item state the entry records.
func (r record) doc() doc { return doc{Version: r.Version, Value: r.Value, Deleted: r.Deleted} }

// recordID is the _id of entry seq of key: the key, a NUL byte and seq in 16
// hex digits. The fixed-width suffix makes it unique per (key, seq) whatever
// bytes the key holds.
func recordID(key string, seq int64) string {
	return fmt.Sprintf("%s\x00%016x", key, seq)
}

// latest returns the newest entry of key, if any.
func (s *Store) latest(ctx context.Context, key string) (record, bool, error) {
	var r record
	err := s.coll.FindOne(ctx, bson.D{{Key: FieldLogKey, Value: key}},
		options.FindOne().SetSort(bson.D{{Key: FieldLogSeq, Value: -1}})).Decode(&r)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return record{}, false, nil
	}
	return r, err == nil, err
}

// appendAfter inserts the entry that follows prev (or the first entry when
// found is false). It reports false, with no error, when another writer
// inserted that entry first.
func (s *Store) appendAfter(ctx context.Context, key string, prev record, found bool, next doc) (bool, error) {
	seq := int64(1)
	if found {
		seq = prev.Seq + 1
	}
	r := bson.D{
		{Key: "_id", Value: recordID(key, seq)},
		{Key: FieldLogKey, Value: key},
		{Key: FieldLogSeq, Value: seq},
		{Key: FieldVersion, Value: next.Version},
		{Key: FieldDeleted, Value: *next.Deleted},
	}
	if !*next.Deleted {
		r = append(r, bson.E{Key: FieldValue, Value: binary(next.Value)})
	}
	_, err := s.coll.InsertOne(ctx, r)
	if mongo.IsDuplicateKeyError(err) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if found && prev.doc().live() && len(prev.Value) > keepValue {
		// The superseded entry keeps its version and flag, which is all
		// that is ever read of it again; drop its value to save space. A
		// failure here loses nothing.
		_, _ = s.coll.UpdateOne(ctx, bson.D{{Key: "_id", Value: recordID(key, prev.Seq)}},
			bson.D{{Key: "$unset", Value: bson.D{{Key: FieldValue, Value: ""}}}})
	}
	return true, nil
}

// logCreate appends a live entry after a tombstone or to an empty log.
func (s *Store) logCreate(ctx context.Context, key string, value []byte) (cas.Item, error) {
	for range maxCreateAttempts {
		prev, found, err := s.latest(ctx, key)
		if err != nil {
			return cas.Item{}, s.fail(ctx, "create", key, err)
		}
		if found && prev.doc().live() {
			return cas.Item{}, fmt.Errorf("mongocas: create %q: %w at version %d", key, cas.ErrExists, prev.Version)
		}
		next := doc{Version: prev.Version + 1, Value: value, Deleted: new(bool)}
		ok, err := s.appendAfter(ctx, key, prev, found, next)
		if err != nil {
			return cas.Item{}, s.fail(ctx, "create", key, err)
		}
		if ok {
			return cas.Item{Key: key, Value: append([]byte{}, value...), Version: uint64(next.Version)}, nil
		}
	}
	return cas.Item{}, fmt.Errorf("mongocas: create %q: %w: other writers won %d times in a row", key, cas.ErrConflict, maxCreateAttempts)
}

// logWrite appends the entry of a CompareAndSwap (value) or a
// CompareAndDelete (deleted) after the newest entry, if that one is live at
// version. The insert succeeds only if no one appended since the read, so
// the write takes effect while the key is still live at version. A lost race
// is decided from the entry that won it.
func (s *Store) logWrite(ctx context.Context, op, key string, version uint64, value []byte, deleted bool) (cas.Item, error) {
	for range maxDecideAttempts {
		prev, found, err := s.latest(ctx, key)
		if err != nil {
			return cas.Item{}, s.fail(ctx, op, key, err)
		}
		if decided := classify(prev.doc(), found, version); decided != nil {
			return cas.Item{}, fmt.Errorf("mongocas: %s %q: %w", op, key, decided)
		}
		next := doc{Version: int64(version) + 1, Value: value, Deleted: &deleted}
		if deleted {
			next.Version = int64(version)
		}
		ok, err := s.appendAfter(ctx, key, prev, found, next)
		if err != nil {
			return cas.Item{}, s.fail(ctx, op, key, err)
		}
		if ok {
			return cas.Item{Key: key, Value: append([]byte{}, value...), Version: uint64(next.Version)}, nil
		}
	}
	return cas.Item{}, fmt.Errorf("mongocas: %s %q: %w: the item kept changing at version %d", op, key, cas.ErrConflict, version)
}

// CreateIndexes creates the index a Store with WithVersionLog reads by
// ({k: 1, s: -1}); without it each read scans the collection. A Store
// without the version log needs no index but the one on _id.
func CreateIndexes(ctx context.Context, coll *mongo.Collection) error {
	if coll == nil {
		return errNilCollection
	}
	_, err := coll.Indexes().CreateOne(ctx, mongo.IndexModel{
		Keys: bson.D{{Key: FieldLogKey, Value: 1}, {Key: FieldLogSeq, Value: -1}},
	})
	if err != nil {
		return fmt.Errorf("mongocas: create index on %s: %w", coll.Name(), err)
	}
	return nil
}
