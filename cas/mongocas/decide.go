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

// conditional applies update to the live document of key at version, and
// turns a refusal into cas.ErrConflict or cas.ErrNotFound: from one read
// after the refusal (see the package documentation), or, with
// WithPipelineUpdates, from the document the pipeline update pipe saw.
func (s *Store) conditional(ctx context.Context, op, key string, version uint64, update bson.D, pipe mongo.Pipeline) error {
	if s.pipeline {
		return s.atomic(ctx, op, key, version, pipe)
	}
	filter := bson.D{
		{Key: "_id", Value: key},
		{Key: FieldVersion, Value: int64(version)},
		{Key: FieldDeleted, Value: false},
	}
	for attempt := 1; ; attempt++ {
		res, err := s.coll.UpdateOne(ctx, filter, update)
		if err != nil {
			return s.fail(ctx, op, key, err)
		}
		if res.MatchedCount > 0 {
			return nil
		}
		d, found, err := s.read(ctx, key)
		if err != nil {
			return s.fail(ctx, op, key, fmt.Errorf("reading the document after a refused write: %w", err))
		}
		decided := classify(d, found, version)
		if decided == nil && attempt < maxDecideAttempts {
			continue
		}
		if decided == nil {
			decided = fmt.Errorf("%w: the item kept changing at version %d", cas.ErrConflict, version)
		}
		return fmt.Errorf("mongocas: %s %q: %w", op, key, decided)
	}
}

// atomic runs the pipeline update pipe on the document of key and decides
// from the document as it was before.
func (s *Store) atomic(ctx context.Context, op, key string, version uint64, pipe mongo.Pipeline) error {
	var d doc
	err := s.coll.FindOneAndUpdate(ctx, bson.D{{Key: "_id", Value: key}}, pipe,
		options.FindOneAndUpdate().
			SetReturnDocument(options.Before).
			SetProjection(bson.D{{Key: FieldVersion, Value: 1}, {Key: FieldDeleted, Value: 1}})).Decode(&d)
	found := true
	if errors.Is(err, mongo.ErrNoDocuments) {
		found, err = false, nil
	}
	if err != nil {
		return s.fail(ctx, op, key, err)
	}
	if decided := classify(d, found, version); decided != nil {
		return fmt.Errorf("mongocas: %s %q: %w", op, key, decided)
	}
	return nil
}

// changeIf is an update pipeline that sets fields only when the document is
// live at version, and leaves it unchanged otherwise.
func changeIf(version uint64, fields ...bson.E) mongo.Pipeline {
	ok := bson.D{{Key: "$and", Value: bson.A{
		bson.D{{Key: "$eq", Value: bson.A{"$" + FieldVersion, int64(version)}}},
		bson.D{{Key: "$eq", Value: bson.A{"$" + FieldDeleted, false}}},
	}}}
	set := bson.D{}
	for _, f := range fields {
		set = append(set, bson.E{Key: f.Key, Value: bson.D{{Key: "$cond", Value: bson.A{ok, f.Value, "$" + f.Key}}}})
	}
	return mongo.Pipeline{{{Key: "$set", Value: set}}}
}

// classify tells why a write conditioned on a live document at version did
// not apply, from the document as it was (found false: no document): an
// error wrapping cas.ErrNotFound or cas.ErrConflict, or nil when the document
// is live at version (the write applies, or must be tried again).
func classify(d doc, found bool, version uint64) error {
	switch {
	case !found || !d.live():
		return fmt.Errorf("%w at version %d", cas.ErrNotFound, version)
	case uint64(d.Version) != version:
		return fmt.Errorf("%w: version is %d, not %d", cas.ErrConflict, d.Version, version)
	}
	return nil
}
