package dynamocas

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// tablePoll is the interval at which CreateTable checks whether the table
// has become active.
const tablePoll = 50 * time.Millisecond

// CreateTable creates table with the layout of the package documentation
// (partition key "pk" of type S, billed per request) and waits until it is
// active. A table of that name that already exists is waited for, not
// changed; CreateTable fails if its key schema is another one.
func CreateTable(ctx context.Context, client *dynamodb.Client, table string) error {
	if client == nil {
		return errNilClient
	}
	if table == "" {
		return errors.New("dynamocas: empty table name")
	}
	_, err := client.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName:            aws.String(table),
		BillingMode:          types.BillingModePayPerRequest,
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String(AttrKey), AttributeType: types.ScalarAttributeTypeS}},
		KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String(AttrKey), KeyType: types.KeyTypeHash}},
	})
	var inUse *types.ResourceInUseException
	if err != nil && !errors.As(err, &inUse) {
		return fmt.Errorf("dynamocas: create table %s: %w", table, err)
	}
	ticker := time.NewTicker(tablePoll)
	defer ticker.Stop()
	for {
		out, err := client.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(table)})
		if err != nil {
			return fmt.Errorf("dynamocas: describe table %s: %w", table, err)
		}
		if err := checkSchema(out.Table); err != nil {
			return fmt.Errorf("dynamocas: table %s: %w", table, err)
		}
		if out.Table.TableStatus == types.TableStatusActive {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-ticker.C:
		}
	}
}

// checkSchema fails unless the table's key is the partition key "pk" alone.
func checkSchema(t *types.TableDescription) error {
	if t == nil || len(t.KeySchema) != 1 || aws.ToString(t.KeySchema[0].AttributeName) != AttrKey || t.KeySchema[0].KeyType != types.KeyTypeHash {
		return fmt.Errorf("key schema is not the single partition key %q this package needs", AttrKey)
	}
	return nil
}
