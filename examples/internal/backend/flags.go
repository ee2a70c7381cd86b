package backend

import (
	"context"
	"database/sql"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/racefree/racefree/cas"
	"github.com/racefree/racefree/examples/internal/workload"
	"github.com/racefree/racefree/lock"
	"github.com/racefree/racefree/sqldialect"
)

// Memory is the kind of the in-process Locker and Store, the default.
const Memory = "memory"

// Flags holds the backend choices of one program.
type Flags struct {
	lockKind, storeKind, dbKind string
	endpoints                   endpoints
}

// endpoints are the addresses of the servers, one flag each.
type endpoints struct {
	redis, etcd, zk, postgres, mysql, mongo, dynamo string
}

// Register adds the endpoint flags to fs, and -lock when lockDefault is not
// empty and -store when storeDefault is not empty, with those defaults.
func Register(fs *flag.FlagSet, lockDefault, storeDefault string) *Flags {
	f := &Flags{}
	if lockDefault != "" {
		fs.StringVar(&f.lockKind, "lock", lockDefault, "lock backend: "+strings.Join(LockerKinds(), ", "))
	}
	if storeDefault != "" {
		fs.StringVar(&f.storeKind, "store", storeDefault, "compare-and-swap store: "+strings.Join(StoreKinds(), ", "))
	}
	e := &f.endpoints
	fs.StringVar(&e.redis, "redis", os.Getenv("RACEFREE_REDIS_ADDRS"), "Redis addresses host:port, comma-separated: -lock redis uses the first, -lock redlock all of them (default $RACEFREE_REDIS_ADDRS)")
	fs.StringVar(&e.etcd, "etcd", os.Getenv("RACEFREE_ETCD_ENDPOINTS"), "etcd endpoints, comma-separated (default $RACEFREE_ETCD_ENDPOINTS)")
	fs.StringVar(&e.zk, "zk", os.Getenv("RACEFREE_ZK_SERVERS"), "ZooKeeper servers, comma-separated (default $RACEFREE_ZK_SERVERS)")
	fs.StringVar(&e.postgres, "postgres", os.Getenv("RACEFREE_POSTGRES_DSN"), "PostgreSQL DSN (default $RACEFREE_POSTGRES_DSN)")
	fs.StringVar(&e.mysql, "mysql", os.Getenv("RACEFREE_MYSQL_DSN"), "MySQL/MariaDB DSN (default $RACEFREE_MYSQL_DSN)")
	fs.StringVar(&e.mongo, "mongo", os.Getenv("RACEFREE_MONGO_URI"), "MongoDB URI (default $RACEFREE_MONGO_URI)")
	fs.StringVar(&e.dynamo, "dynamodb", os.Getenv("RACEFREE_DYNAMODB_ENDPOINT"), "DynamoDB endpoint URL (default $RACEFREE_DYNAMODB_ENDPOINT)")
	return f
}

// RegisterDB adds -db to fs: memory (the default) or a SQL database,
// postgres or mysql, whose tables a program locks rows of with package
// sqllock.
func (f *Flags) RegisterDB(fs *flag.FlagSet) {
	fs.StringVar(&f.dbKind, "db", Memory, "where the rows live: memory, or postgres or mysql (MariaDB) for SQL row locks")
}

// LockKind is the -lock value.
func (f *Flags) LockKind() string { return f.lockKind }

// StoreKind is the -store value.
func (f *Flags) StoreKind() string { return f.storeKind }

// Locker opens the Locker chosen with -lock. close releases its connections.
// An unknown kind or a missing endpoint is an error wrapping
// workload.ErrUsage.
func (f *Flags) Locker(ctx context.Context) (l lock.Locker, close func(), err error) {
	if !slices.Contains(LockerKinds(), f.lockKind) {
		return nil, nil, workload.Usagef("-lock %q: want one of %s", f.lockKind, strings.Join(LockerKinds(), ", "))
	}
	return openLocker(ctx, f.lockKind, f.endpoints)
}

// Store opens the Store chosen with -store. close releases its connections.
// An unknown kind or a missing endpoint is an error wrapping
// workload.ErrUsage.
func (f *Flags) Store(ctx context.Context) (s cas.Store, close func(), err error) {
	if !slices.Contains(StoreKinds(), f.storeKind) {
		return nil, nil, workload.Usagef("-store %q: want one of %s", f.storeKind, strings.Join(StoreKinds(), ", "))
	}
	return openStore(ctx, f.storeKind, f.endpoints)
}

// Backends are the Locker and Store a program opened.
type Backends struct {
	// Locker is the -lock Locker, nil if the program has no -lock flag.
	Locker lock.Locker
	// Store is the -store Store, nil if the program has no -store flag.
	Store cas.Store
	// DB is the -db database, nil for memory; Dialect is its SQL flavour.
	DB                          *sql.DB
	Dialect                     sqldialect.Dialect
	lockKind, storeKind, dbKind string
	closers                     []func()
}

// Open opens the Locker and the Store of the flags Register added. Close the
// result when done. An unknown kind or a missing endpoint is an error
// wrapping workload.ErrUsage.
func (f *Flags) Open(ctx context.Context) (*Backends, error) {
	b := &Backends{lockKind: f.lockKind, storeKind: f.storeKind, dbKind: f.dbKind}
	if f.lockKind != "" {
		l, closeLocker, err := f.Locker(ctx)
		if err != nil {
			return nil, err
		}
		b.Locker, b.closers = l, append(b.closers, closeLocker)
	}
	if f.storeKind != "" {
		s, closeStore, err := f.Store(ctx)
		if err != nil {
			b.Close()
			return nil, err
		}
		b.Store, b.closers = s, append(b.closers, closeStore)
	}
	switch f.dbKind {
	case "", Memory:
	case "postgres", "mysql":
		db, dialect, err := openSQL(ctx, f.dbKind, f.endpoints)
		if err != nil {
			b.Close()
			return nil, err
		}
		b.DB, b.Dialect, b.closers = db, dialect, append(b.closers, func() { _ = db.Close() })
	default:
		b.Close()
		return nil, workload.Usagef("-db %q: want memory, postgres or mysql", f.dbKind)
	}
	return b, nil
}

// Close releases the connections of the Locker and the Store.
func (b *Backends) Close() {
	for _, c := range slices.Backward(b.closers) {
		c()
	}
}

// Locked is a protected strategy that runs on the Locker, named after it:
// "name (kind)".
func (b *Backends) Locked(name string, run func(context.Context) (workload.Report, error)) workload.Strategy {
	return workload.Strategy{Name: name + " (" + b.lockKind + ")", Protected: true, Run: run}
}

// Stored is a protected strategy that runs on the Store, named after it:
// "name (kind)".
func (b *Backends) Stored(name string, run func(context.Context) (workload.Report, error)) workload.Strategy {
	return workload.Strategy{Name: name + " (" + b.storeKind + ")", Protected: true, Run: run}
}

// InDB is a protected strategy that runs on the -db database: "name (kind)".
func (b *Backends) InDB(name string, run func(context.Context) (workload.Report, error)) workload.Strategy {
	return workload.Strategy{Name: name + " (" + b.dbKind + ")", Protected: true, Run: run}
}

// RowLocked returns the two strategies of a program whose rows are locked
// pessimistically: with -db, the rows in that database unprotected and then
// under SQL row locks ("for update"); otherwise the rows in memory
// unprotected (inMemory(nil)) and then under a key of the Locker per row.
func (b *Backends) RowLocked(lockName string, inMemory func(l lock.Locker) func(context.Context) (workload.Report, error),
	inDB func(protected bool) func(context.Context) (workload.Report, error)) []workload.Strategy {
	if b.DB != nil {
		return []workload.Strategy{{Name: "unprotected", Run: inDB(false)}, b.InDB("for update", inDB(true))}
	}
	return []workload.Strategy{{Name: "unprotected", Run: inMemory(nil)}, b.Locked(lockName, inMemory(b.Locker))}
}

// Compare opens the backends, prints header to out, and compares the
// strategies that strategies returns for them (workload.Compare).
func (f *Flags) Compare(ctx context.Context, out io.Writer, header string, strategies func(b *Backends) []workload.Strategy) ([]workload.Report, error) {
	b, err := f.Open(ctx)
	if err != nil {
		return nil, err
	}
	defer b.Close()
	fmt.Fprintln(out, header)
	return workload.Compare(ctx, out, strategies(b)...)
}
