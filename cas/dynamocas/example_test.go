package dynamocas_test

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/racefree/racefree/cas"
	"github.com/racefree/racefree/cas/dynamocas"
)

// A seat booked with a conditional write: a second writer holding the old
// version gets cas.ErrConflict and must read again.
func Example() {
	endpoint := os.Getenv("RACEFREE_DYNAMODB_ENDPOINT") // e.g. http://127.0.0.1:18000
	if endpoint == "" {
		fmt.Println("set RACEFREE_DYNAMODB_ENDPOINT")
		return
	}
	client := dynamodb.New(dynamodb.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(endpoint),
		Credentials:  credentials.NewStaticCredentialsProvider("example", "example", ""),
	})
	ctx := context.Background()
	if err := dynamocas.CreateTable(ctx, client, "seats"); err != nil {
		fmt.Println(err)
		return
	}
	store := dynamocas.New(client, "seats")

	seat, err := store.Create(ctx, "flight-7/12A", []byte("free"))
	if errors.Is(err, cas.ErrExists) {
		seat, err = store.Get(ctx, "flight-7/12A")
	}
	if err != nil {
		fmt.Println(err)
		return
	}
	if _, err := store.CompareAndSwap(ctx, seat.Key, seat.Version, []byte("alice")); err != nil {
		fmt.Println(err)
		return
	}
	_, err = store.CompareAndSwap(ctx, seat.Key, seat.Version, []byte("bob"))
	fmt.Println("bob's write with the old version:", errors.Is(err, cas.ErrConflict))
	_ = store.CompareAndDelete(ctx, seat.Key, seat.Version+1)
}
