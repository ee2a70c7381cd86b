package dynamocas_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"strings"
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

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var tables sync.Map // testing.TB -> table name, created once per test

// newTable returns the test's table (created on the first call, deleted at
// its end) and a new client, as another process would have.
func newTable(t testing.TB) (*dynamodb.Client, string) {
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

// TestLargestItem checks that the longest key with the largest value fits
// the server's item size limit, and that a value a byte larger is refused
// before any request.
func TestLargestItem(t *testing.T) {
	client, table := newTable(t)
	s := dynamocas.New(client, table)
	ctx := t.Context()
	key := strings.Repeat("k", dynamocas.MaxKeyLen)
	value := make([]byte, dynamocas.MaxValueSize)
	_, _ = rand.Read(value)
	if _, err := s.Create(ctx, key, value); err != nil {
		t.Fatalf("Create of the largest item: %v", err)
	}
	got, err := s.Get(ctx, key)
	if err != nil || !bytes.Equal(got.Value, value) {
		t.Fatalf("Get of the largest item: %d bytes, %v", len(got.Value), err)
	}
	_, err = s.CompareAndSwap(ctx, key, 1, append(value, 0))
	if !errors.Is(err, cas.ErrValueTooLarge) {
		t.Fatalf("CompareAndSwap of a value over the limit: %v, want ErrValueTooLarge", err)
	}
}

func TestBadConfiguration(t *testing.T) {
	ctx := context.Background()
	if _, err := dynamocas.New(nil, "t").Get(ctx, "k"); err == nil {
		t.Error("Get with a nil client succeeded")
	}
	if _, err := dynamocas.New(testenv.DynamoDB(t), "").Get(ctx, "k"); err == nil {
		t.Error("Get with an empty table name succeeded")
	}
	if err := dynamocas.CreateTable(ctx, nil, "t"); err == nil {
		t.Error("CreateTable with a nil client succeeded")
	}
}
