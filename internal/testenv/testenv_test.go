package testenv

import (
	"context"
	"regexp"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/go-zookeeper/zk"
	"github.com/jackc/pgx/v5"
	"go.mongodb.org/mongo-driver/v2/bson"
)

func TestPrefix(t *testing.T) {
	p := Prefix(t)
	if !regexp.MustCompile(`^t[a-z0-9]{10}$`).MatchString(p) {
		t.Fatalf("Prefix = %q, want t and 10 lowercase letters or digits", p)
	}
	if again := Prefix(t); again != p {
		t.Fatalf("Prefix changed within one test: %q then %q", p, again)
	}
	t.Run("sub", func(t *testing.T) {
		if Prefix(t) == p {
			t.Fatal("a subtest got its parent's prefix")
		}
	})
}

func TestRequired(t *testing.T) {
	for _, c := range []struct {
		env, backend string
		want         bool
	}{{"", "redis", false}, {"all", "etcd", true}, {"redis, etcd", "etcd", true}, {"redis", "mongo", false}} {
		t.Setenv(RequireVar, c.env)
		if got := required(c.backend); got != c.want {
			t.Errorf("%s=%q: required(%q) = %v, want %v", RequireVar, c.env, c.backend, got, c.want)
		}
	}
}

func TestRedis(t *testing.T) {
	ctx := t.Context()
	key := Prefix(t) + ":k"
	if err := Redis(t).Set(ctx, key, "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	got, err := Redis(t).Get(ctx, key).Result() // another client, same server
	if err != nil || got != "v" {
		t.Fatalf("GET %s = %q, %v; want v", key, got, err)
	}
}

func TestRedisNodes(t *testing.T) {
	ctx := t.Context()
	nodes := RedisNodes(t, MaxRedisNodes)
	key := Prefix(t) + ":node"
	for i, c := range nodes {
		if err := c.Set(ctx, key, i, 0).Err(); err != nil {
			t.Fatalf("node %d: %v", i, err)
		}
	}
	for i, c := range nodes { // independent servers: each kept its own value
		if got, err := c.Get(ctx, key).Int(); err != nil || got != i {
			t.Fatalf("node %d: GET = %d, %v; want %d", i, got, err, i)
		}
	}
}

func TestPostgres(t *testing.T) {
	ctx := t.Context()
	db := Postgres(t)
	var one int
	if err := db.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil || one != 1 {
		t.Fatalf("SELECT 1 = %d, %v", one, err)
	}
	if _, err := db.ExecContext(ctx, "CREATE TABLE items (k text PRIMARY KEY)"); err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, PostgresDSN(t)) // pgx native, same schema
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = conn.Close(ctx) }()
	var schema string
	if err := conn.QueryRow(ctx, "SELECT table_schema FROM information_schema.tables WHERE table_name = 'items' AND table_schema = current_schema()").Scan(&schema); err != nil {
		t.Fatal(err)
	}
	if schema != Prefix(t) {
		t.Fatalf("table landed in schema %q, want %q", schema, Prefix(t))
	}
}

func TestMySQL(t *testing.T) {
	var one int
	var name string
	if err := MySQL(t).QueryRowContext(t.Context(), "SELECT 1, DATABASE()").Scan(&one, &name); err != nil || one != 1 {
		t.Fatalf("SELECT 1 = %d, %v", one, err)
	}
	if name != Prefix(t) {
		t.Fatalf("DATABASE() = %q, want %q", name, Prefix(t))
	}
}

func TestZooKeeper(t *testing.T) {
	p := ZooKeeperRoot(t) + "/node"
	if _, err := ZooKeeper(t).Create(p, []byte("v"), zk.FlagEphemeral, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	got, _, err := ZooKeeper(t).Get(p) // another session sees it
	if err != nil || string(got) != "v" {
		t.Fatalf("get %s = %q, %v", p, got, err)
	}
}

func TestEtcd(t *testing.T) {
	ctx := t.Context()
	key := Prefix(t) + "/k"
	if _, err := Etcd(t).Put(ctx, key, "v"); err != nil {
		t.Fatal(err)
	}
	resp, err := Etcd(t).Get(ctx, key)
	if err != nil || len(resp.Kvs) != 1 || string(resp.Kvs[0].Value) != "v" {
		t.Fatalf("get %s = %v, %v", key, resp, err)
	}
}

func TestMongo(t *testing.T) {
	ctx := t.Context()
	if _, err := Mongo(t).Collection("c").InsertOne(ctx, bson.D{{Key: "_id", Value: "k"}, {Key: "v", Value: 1}}); err != nil {
		t.Fatal(err)
	}
	var doc struct{ V int }
	if err := Mongo(t).Collection("c").FindOne(ctx, bson.D{{Key: "_id", Value: "k"}}).Decode(&doc); err != nil || doc.V != 1 {
		t.Fatalf("find = %+v, %v", doc, err)
	}
}

func TestDynamoDB(t *testing.T) {
	ctx := t.Context()
	db := DynamoDB(t)
	table := aws.String(Prefix(t))
	_, err := db.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName:            table,
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String("k"), AttributeType: types.ScalarAttributeTypeS}},
		KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String("k"), KeyType: types.KeyTypeHash}},
		BillingMode:          types.BillingModePayPerRequest,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = db.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: table}) })
	waiter := dynamodb.NewTableExistsWaiter(db, func(o *dynamodb.TableExistsWaiterOptions) { o.MinDelay = 20 * time.Millisecond })
	if err := waiter.Wait(ctx, &dynamodb.DescribeTableInput{TableName: table}, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	key := map[string]types.AttributeValue{"k": &types.AttributeValueMemberS{Value: "a"}}
	item := map[string]types.AttributeValue{"k": key["k"], "v": &types.AttributeValueMemberS{Value: "1"}}
	if _, err := db.PutItem(ctx, &dynamodb.PutItemInput{TableName: table, Item: item}); err != nil {
		t.Fatal(err)
	}
	out, err := DynamoDB(t).GetItem(ctx, &dynamodb.GetItemInput{TableName: table, Key: key, ConsistentRead: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	if v, ok := out.Item["v"].(*types.AttributeValueMemberS); !ok || v.Value != "1" {
		t.Fatalf("GetItem = %v", out.Item)
	}
}

func TestStartRedisServer(t *testing.T) {
	ctx := t.Context()
	s := StartRedisServer(t)
	c := newRedis(t, s.Addr)
	if err := c.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	s.Stop()
	if err := c.Ping(ctx).Err(); err == nil {
		t.Fatal("PING answered after Stop")
	}
	s.Start()
	if n, err := c.Exists(ctx, "k").Result(); err != nil || n != 0 {
		t.Fatalf("after restart: EXISTS k = %d, %v; want 0 (empty data)", n, err)
	}
}

func TestStartEtcdServer(t *testing.T) {
	ctx := t.Context()
	s := StartEtcdServer(t)
	if _, err := dialEtcd(t, []string{s.Addr}).Put(ctx, "k", "v"); err != nil {
		t.Fatal(err)
	}
	s.Stop()
	s.Start()
	resp, err := dialEtcd(t, []string{s.Addr}).Get(ctx, "k")
	if err != nil || len(resp.Kvs) != 1 {
		t.Fatalf("after restart: get k = %v, %v; want the value kept", resp, err)
	}
}

func TestStartZooKeeperServer(t *testing.T) {
	s := StartZooKeeperServer(t)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("server log:\n%s", s.Log())
		}
	})
	if _, err := dialZooKeeper(t, []string{s.Addr}).Create("/k", []byte("v"), 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	s.Stop()
	s.Start()
	if got, _, err := dialZooKeeper(t, []string{s.Addr}).Get("/k"); err != nil || string(got) != "v" {
		t.Fatalf("after restart: get /k = %q, %v; want the data kept", got, err)
	}
}
