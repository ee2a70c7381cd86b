package caslock_test

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.uber.org/goleak"

	"github.com/racefree/racefree/cas"
	"github.com/racefree/racefree/cas/dynamocas"
	"github.com/racefree/racefree/cas/mongocas"
	"github.com/racefree/racefree/caslock"
	"github.com/racefree/racefree/internal/testenv"
	"github.com/racefree/racefree/lock"
	"github.com/racefree/racefree/lock/locktest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// newLocker is a Locker on store, or fails t.
func newLocker(t *testing.T, store cas.Store, opts ...caslock.Option) *caslock.Locker {
	t.Helper()
	l, err := caslock.New(store, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// A backend's setup runs once per test and returns how to make a new Store
// on that test's data: each call is a new client (another process), whatever
// test or subtest asks.
type setup func(t *testing.T) func(t *testing.T) cas.Store

var backends = []struct {
	name  string
	setup setup
	ttl   time.Duration // the TTL of locktest's expiry cases; zero: its default
}{
	{"Memory", memorySetup, 0},
	{"DynamoDB", dynamoSetup, 0},
	// FerretDB on SQLite takes tens of milliseconds per write when other
	// test binaries load the machine: leases of 500 ms miss their refreshes.
	{"MongoDB", mongoSetup, time.Second},
}

// memorySetup shares one in-memory Store, as goroutines of one process do.
func memorySetup(*testing.T) func(*testing.T) cas.Store {
	m := cas.NewMemory()
	return func(*testing.T) cas.Store { return m }
}

// dynamoSetup creates a table for the test, deleted at its end.
func dynamoSetup(t *testing.T) func(*testing.T) cas.Store {
	t.Helper()
	table := testenv.Prefix(t)
	client := testenv.DynamoDB(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := dynamocas.CreateTable(ctx, client, table); err != nil {
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

// mongoSetup uses the version log: FerretDB v1's conditional updates are not
// atomic (see package mongocas). The test's database is made once; each
// Store is a new client to it, connected lazily so that making one costs no
// round trip (locktest times some cases from before NewLocker).
func mongoSetup(t *testing.T) func(*testing.T) cas.Store {
	t.Helper()
	db := testenv.Mongo(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := mongocas.CreateIndexes(ctx, db.Collection("locks")); err != nil {
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
		return mongocas.New(client.Database(name).Collection("locks"), mongocas.WithVersionLog())
	}
}

// TestConformance runs the suite on each Store in turn (not in parallel:
// locktest checks for leaked goroutines when it ends).
func TestConformance(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			newStore := b.setup(t)
			locktest.Run(t, locktest.Harness{
				NewLocker: func(t *testing.T) lock.Locker { return newLocker(t, newStore(t)) },
				TTL:       b.ttl,
			})
		})
	}
}
