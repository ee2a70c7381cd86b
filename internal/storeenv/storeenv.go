// Package storeenv hands tests every cas.Store backend on its real server (via
// internal/testenv), each on a namespace of the test's own, so that packages
// built on cas.Store (caslock, fence, eventsource) prove themselves on all of
// them without each writing its own set-up.
package storeenv

import (
	"context"
	"database/sql"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/racefree/racefree/cas"
	"github.com/racefree/racefree/cas/dynamocas"
	"github.com/racefree/racefree/cas/mongocas"
	"github.com/racefree/racefree/cas/sqlcas"
	"github.com/racefree/racefree/internal/testenv"
	"github.com/racefree/racefree/sqldialect"
)

// Backend is one cas.Store backend.
type Backend struct {
	// Name names the backend in subtest names: Memory, PostgreSQL, MySQL,
	// DynamoDB, MongoDB.
	Name string

	// Setup prepares the test's namespace (a table, a collection, a schema),
	// removed when t ends, and returns how to make a new Store on it. Each
	// call of the returned function is a new client, as another process
	// would have, whichever test or subtest makes it.
	Setup func(t *testing.T) func(t *testing.T) cas.Store
}

// All returns every backend: the in-memory Store and each adapter on its
// real server. MongoDB runs mongocas's version log: FerretDB v1, the test
// server, does not apply conditional updates atomically.
func All() []Backend {
	return []Backend{
		{"Memory", memory},
		{"PostgreSQL", func(t *testing.T) func(*testing.T) cas.Store { return sqlStores(t, sqldialect.Postgres) }},
		{"MySQL", func(t *testing.T) func(*testing.T) cas.Store { return sqlStores(t, sqldialect.MySQL) }},
		{"DynamoDB", dynamo},
		{"MongoDB", mongoLog},
	}
}

func setupContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// memory shares one in-memory Store, as goroutines of one process do.
func memory(*testing.T) func(*testing.T) cas.Store {
	m := cas.NewMemory()
	return func(*testing.T) cas.Store { return m }
}

func sqlStores(t *testing.T, d sqldialect.Dialect) func(*testing.T) cas.Store {
	t.Helper()
	driver, dsn := "pgx", testenv.PostgresDSN(t)
	if d == sqldialect.MySQL {
		driver, dsn = "mysql", testenv.MySQLDSN(t)
	}
	open := func(t *testing.T) *sqlcas.Store {
		t.Helper()
		db, err := sql.Open(driver, dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = db.Close() })
		s, err := sqlcas.New(db, d)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	if err := open(t).EnsureSchema(setupContext(t)); err != nil {
		t.Fatalf("sqlcas schema: %v", err)
	}
	return func(t *testing.T) cas.Store { return open(t) }
}

func dynamo(t *testing.T) func(*testing.T) cas.Store {
	t.Helper()
	table := testenv.Prefix(t)
	client := testenv.DynamoDB(t)
	if err := dynamocas.CreateTable(setupContext(t), client, table); err != nil {
		t.Fatalf("CreateTable: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := client.DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: aws.String(table)}); err != nil {
			t.Errorf("DeleteTable %s: %v", table, err)
		}
	})
	return func(t *testing.T) cas.Store { return dynamocas.New(testenv.DynamoDB(t), table) }
}

// mongoLog makes the test's database once; each Store is a new client,
// connected lazily so that making one costs no round trip.
func mongoLog(t *testing.T) func(*testing.T) cas.Store {
	t.Helper()
	db := testenv.Mongo(t)
	if err := mongocas.CreateIndexes(setupContext(t), db.Collection("items")); err != nil {
		t.Fatal(err)
	}
	uri, name := testenv.MongoURI(t), db.Name()
	return func(t *testing.T) cas.Store {
		t.Helper()
		client, err := mongo.Connect(options.Client().ApplyURI(uri))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = client.Disconnect(context.Background()) })
		return mongocas.New(client.Database(name).Collection("items"), mongocas.WithVersionLog())
	}
}
