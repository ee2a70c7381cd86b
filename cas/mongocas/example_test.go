package mongocas_test

import (
	"context"
	"errors"
	"fmt"
	"os"

	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.mongodb.org/mongo-driver/v2/mongo/readconcern"
	"go.mongodb.org/mongo-driver/v2/mongo/writeconcern"

	"github.com/racefree/racefree/cas"
	"github.com/racefree/racefree/cas/mongocas"
	"github.com/racefree/racefree/occ"
)

// A stock counter decremented with optimistic concurrency: occ.Update reads,
// computes and writes back with the version, retrying on cas.ErrConflict.
func Example() {
	uri := os.Getenv("RACEFREE_MONGO_URI") // e.g. mongodb://127.0.0.1:27117/
	if uri == "" {
		fmt.Println("set RACEFREE_MONGO_URI")
		return
	}
	ctx := context.Background()
	client, err := mongo.Connect(options.Client().ApplyURI(uri))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer client.Disconnect(ctx)

	// On a replica set: majority writes and linearizable reads.
	store := mongocas.New(client.Database("shop").Collection("stock"),
		mongocas.WithWriteConcern(writeconcern.Majority()),
		mongocas.WithReadConcern(readconcern.Linearizable()))

	if _, err := store.Create(ctx, "sku-42", []byte("10")); err != nil && !errors.Is(err, cas.ErrExists) {
		fmt.Println(err)
		return
	}
	it, _, err := occ.Update(ctx, store, "sku-42", func(cur cas.Item) ([]byte, error) {
		var n int
		_, err := fmt.Sscan(string(cur.Value), &n)
		return fmt.Append(nil, n-1), err
	})
	fmt.Println(string(it.Value), err)
}
