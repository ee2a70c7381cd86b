package testenv

import (
	"context"
	"testing"

	tcmongodb "github.com/testcontainers/testcontainers-go/modules/mongodb"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// MongoImage is the image of the MongoDB container (when no endpoint is given).
const MongoImage = "mongo:7"

// MongoURIVar is the connection string of a MongoDB-compatible server (FerretDB
// v1 natively: no TTL indexes, no multi-document transactions).
const MongoURIVar = "RACEFREE_MONGO_URI"

var mongoContainer = shared{start: func(ctx context.Context) (string, error) {
	c, err := tcmongodb.Run(ctx, MongoImage)
	if c != nil {
		if terr := track(c.GetContainerID()); terr != nil && err == nil {
			err = terr
		}
	}
	if err != nil {
		return "", err
	}
	return c.ConnectionString(ctx)
}}

// MongoURI returns the connection string of the MongoDB-compatible server.
func MongoURI(t testing.TB) string {
	t.Helper()
	return endpoint(t, "mongo", MongoURIVar, &mongoContainer)
}

// Mongo returns a database unique to the test on a new client; the client is
// disconnected and the database dropped when the test ends. Every call of one test
// names the same database.
func Mongo(t testing.TB) *mongo.Database {
	t.Helper()
	uri := MongoURI(t)
	ctx := setupContext(t)
	c, err := mongo.Connect(options.Client().ApplyURI(uri))
	if err == nil {
		err = c.Ping(ctx, nil)
	}
	if err != nil {
		t.Fatalf("testenv: MongoDB at %s (%s): %v", uri, MongoURIVar, err)
	}
	t.Cleanup(func() { _ = c.Disconnect(ctx) })
	name := memo(t, "mongo", func() string {
		name := Prefix(t)
		t.Cleanup(func() {
			if err := c.Database(name).Drop(ctx); err != nil {
				t.Errorf("testenv: MongoDB: drop database %s: %v", name, err)
			}
		})
		return name
	})
	return c.Database(name)
}
