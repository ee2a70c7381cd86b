package backend

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	_ "github.com/go-sql-driver/mysql" // registers the "mysql" database/sql driver
	"github.com/go-zookeeper/zk"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver
	"github.com/redis/go-redis/v9"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/racefree/racefree/cas"
	"github.com/racefree/racefree/cas/dynamocas"
	"github.com/racefree/racefree/cas/mongocas"
	"github.com/racefree/racefree/cas/sqlcas"
	"github.com/racefree/racefree/examples/internal/workload"
	"github.com/racefree/racefree/redlock"
	"github.com/racefree/racefree/sqldialect"
)

// Names of what the programs create on shared servers.
const (
	dynamoTable      = "racefree_examples"
	mongoDatabase    = "racefree_examples"
	mongoCollection  = "items"
	zkSessionTimeout = 10 * time.Second
)

// need returns a usage error when the endpoint of kind is empty (or lists
// no address: "," or spaces).
func need(kind, flagName, value string) error {
	if len(list(value)) == 0 {
		return workload.Usagef("%s needs -%s (or its RACEFREE_* variable)", kind, flagName)
	}
	return nil
}

func list(s string) []string {
	var out []string
	for _, part := range strings.Split(s, ",") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}

// redisClients returns a client for the first -redis address, or for every
// one when all is set (Redlock).
func redisClients(e endpoints, all bool) ([]redlock.Client, func(), error) {
	if err := need("redis", "redis", e.redis); err != nil {
		return nil, nil, err
	}
	addrs := list(e.redis)
	if !all {
		addrs = addrs[:1]
	}
	var clients []redlock.Client
	var rdbs []*redis.Client
	for _, addr := range addrs {
		rdb := redis.NewClient(&redis.Options{Addr: addr})
		rdbs = append(rdbs, rdb)
		clients = append(clients, rdb)
	}
	return clients, func() {
		for _, rdb := range rdbs {
			_ = rdb.Close()
		}
	}, nil
}

// etcdClient returns a client of the -etcd endpoints once one of them
// answers: clientv3.New dials lazily, and a first Acquire against no server
// would wait for good.
func etcdClient(e endpoints) (*clientv3.Client, error) {
	if err := need("etcd", "etcd", e.etcd); err != nil {
		return nil, err
	}
	addrs := list(e.etcd)
	cli, err := clientv3.New(clientv3.Config{Endpoints: addrs, DialTimeout: 5 * time.Second})
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := cli.Get(ctx, "racefree-examples-ping"); err != nil {
		_ = cli.Close()
		return nil, fmt.Errorf("etcd at %s does not answer: %w", strings.Join(addrs, ","), err)
	}
	return cli, nil
}

// quiet drops go-zookeeper's connection log lines, which would interleave
// with the summary.
type quiet struct{}

func (quiet) Printf(string, ...any) {}

func zkConn(e endpoints) (*zk.Conn, error) {
	if err := need("zookeeper", "zk", e.zk); err != nil {
		return nil, err
	}
	conn, _, err := zk.Connect(list(e.zk), zkSessionTimeout, zk.WithLogger(quiet{}))
	return conn, err
}

// openSQL opens the database of kind postgres or mysql and checks it
// answers.
func openSQL(ctx context.Context, kind string, e endpoints) (*sql.DB, sqldialect.Dialect, error) {
	driver, dsn, dialect := "pgx", e.postgres, sqldialect.Postgres
	if kind == "mysql" {
		driver, dsn, dialect = "mysql", e.mysql, sqldialect.MySQL
	}
	if err := need(kind, kind, dsn); err != nil {
		return nil, 0, err
	}
	db, err := sql.Open(driver, dsn)
	if err != nil {
		return nil, 0, err
	}
	db.SetMaxOpenConns(50)
	if err := db.PingContext(ctx); err != nil {
		_ = db.Close()
		return nil, 0, fmt.Errorf("%s: %w", kind, err)
	}
	return db, dialect, nil
}

func openSQLStore(ctx context.Context, kind string, e endpoints) (cas.Store, func(), error) {
	db, dialect, err := openSQL(ctx, kind, e)
	if err != nil {
		return nil, nil, err
	}
	s, err := sqlcas.New(db, dialect)
	if err == nil {
		err = s.EnsureSchema(ctx)
	}
	return closeOnError[cas.Store](s, func() { _ = db.Close() }, err)
}

func openDynamoStore(ctx context.Context, e endpoints) (cas.Store, func(), error) {
	if err := need("dynamodb", "dynamodb", e.dynamo); err != nil {
		return nil, nil, err
	}
	client := dynamodb.New(dynamodb.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(e.dynamo),
		Credentials:  credentials.NewStaticCredentialsProvider("racefree", "racefree", ""),
	})
	if err := dynamocas.CreateTable(ctx, client, dynamoTable); err != nil {
		return nil, nil, fmt.Errorf("dynamodb: %w", err)
	}
	return dynamocas.New(client, dynamoTable), func() {}, nil
}

// openMongoStore keeps a version log (mongocas.WithVersionLog), which is
// correct on MongoDB and on FerretDB v1 alike.
func openMongoStore(ctx context.Context, e endpoints) (cas.Store, func(), error) {
	if err := need("mongodb", "mongo", e.mongo); err != nil {
		return nil, nil, err
	}
	client, err := mongo.Connect(options.Client().ApplyURI(e.mongo))
	if err != nil {
		return nil, nil, err
	}
	disconnect := func() { _ = client.Disconnect(context.Background()) }
	coll := client.Database(mongoDatabase).Collection(mongoCollection)
	err = mongocas.CreateIndexes(ctx, coll)
	return closeOnError[cas.Store](mongocas.New(coll, mongocas.WithVersionLog()), disconnect, err)
}
