package testenv

import (
	"context"
	"net/http"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/testcontainers/testcontainers-go"
	"github.com/testcontainers/testcontainers-go/wait"
)

// DynamoDBImage is the image of the DynamoDB container (when no endpoint is given).
const DynamoDBImage = "amazon/dynamodb-local:2.5.4"

// DynamoDBEndpointVar is the URL of a DynamoDB-compatible server (dynalite
// natively: no UpdateTimeToLive, no TransactWriteItems).
const DynamoDBEndpointVar = "RACEFREE_DYNAMODB_ENDPOINT"

var dynamoContainer = shared{start: func(ctx context.Context) (string, error) {
	c, err := startGeneric(ctx, testcontainers.ContainerRequest{
		Image:        DynamoDBImage,
		ExposedPorts: []string{"8000/tcp"},
		Cmd:          []string{"-jar", "DynamoDBLocal.jar", "-inMemory", "-sharedDb"},
		WaitingFor:   wait.ForListeningPort("8000/tcp"),
	})
	if err != nil {
		return "", err
	}
	return c.PortEndpoint(ctx, "8000/tcp", "http")
}}

// DynamoDBEndpoint returns the URL of the DynamoDB-compatible server.
func DynamoDBEndpoint(t testing.TB) string {
	t.Helper()
	return endpoint(t, "dynamodb", DynamoDBEndpointVar, &dynamoContainer)
}

// DynamoDB returns a new client to the DynamoDB-compatible server, with static
// dummy credentials and region us-east-1; it never reaches an AWS address. Its
// HTTP transport is its own and its idle connections are closed when t ends,
// so no keep-alive goroutine outlives the test. Tables are shared with other
// tests: name them with Prefix(t).
func DynamoDB(t testing.TB) *dynamodb.Client {
	t.Helper()
	transport := &http.Transport{}
	t.Cleanup(transport.CloseIdleConnections)
	return dynamodb.New(dynamodb.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(DynamoDBEndpoint(t)),
		Credentials:  credentials.NewStaticCredentialsProvider("racefree", "racefree", ""),
		HTTPClient:   &http.Client{Transport: transport},
	})
}
