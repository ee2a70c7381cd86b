package dynamocas_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"go.uber.org/goleak"

	"github.com/racefree/racefree/cas"
	"github.com/racefree/racefree/cas/castest"
	"github.com/racefree/racefree/cas/dynamocas"
	"github.com/racefree/racefree/internal/testenv"
)

func TestMain(m *testing.M) {
	// The SDK's HTTP transport keeps idle connections with their reader and
	// writer goroutines after a test's client is dropped.
	goleak.VerifyTestMain(m, goleak.IgnoreTopFunction("net/http.(*persistConn).readLoop"),
		goleak.IgnoreTopFunction("net/http.(*persistConn).writeLoop"),
		goleak.IgnoreTopFunction("internal/poll.runtime_pollWait"))
}

var tables sync.Map // *testing.T -> table name, created once per test

// newTable returns the test's table (created on the first call, deleted at
// its end) and a new client, as another process would have.
func newTable(t *testing.T) (*dynamodb.Client, string) {
	t.Helper()
	client := testenv.DynamoDB(t)
	name := testenv.Prefix(t)
	if _, loaded := tables.LoadOrStore(t, name); !loaded {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := dynamocas.CreateTable(ctx, client, name); err != nil {
			t.Fatalf("CreateTable: %v", err)
		}
		t.Cleanup(func() {
			tables.Delete(t)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if _, err := client.DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: aws.String(name)}); err != nil {
				t.Errorf("DeleteTable %s: %v", name, err)
			}
		})
	}
	return client, name
}

func TestConformance(t *testing.T) {
	castest.Run(t, castest.Harness{
		NewStore: func(t *testing.T) cas.Store {
			client, table := newTable(t)
			return dynamocas.New(client, table)
		},
		MaxValueSize: dynamocas.MaxValueSize,
		MaxKeyLen:    dynamocas.MaxKeyLen,
	})
}
