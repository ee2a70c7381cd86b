package sqlcas

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"

	"github.com/racefree/racefree/cas"
	"github.com/racefree/racefree/internal/sqlname"
	"github.com/racefree/racefree/sqldialect"
)

// DefaultTable is the table a Store uses without WithTable.
const DefaultTable = "racefree_cas"

// Option configures a Store.
type Option func(*Store)

// WithTable sets the table of the Store, "name" or "schema.name", a plain
// identifier. Default DefaultTable.
func WithTable(name string) Option { return func(s *Store) { s.table = name } }

// WithMaxValueSize sets the largest value, in bytes, the Store accepts.
// Default cas.DefaultMaxValueSize (1 MiB).
func WithMaxValueSize(n int) Option { return func(s *Store) { s.maxValue = n } }

// Store is a cas.Store on a versioned key/value table; see the package
// documentation for its schema and statements. It is safe for concurrent use.
type Store struct {
	db       *sql.DB
	dialect  sqldialect.Dialect
	table    string
	maxValue int
	ops      ops
}

var _ cas.Store = (*Store)(nil)

// ops is what a dialect implements: the four operations after validation.
// A refusal is reported as an error wrapping the cas sentinel.
type ops interface {
	get(ctx context.Context, key []byte) (value []byte, version int64, err error)
	create(ctx context.Context, key, value []byte) (version int64, err error)
	swap(ctx context.Context, key []byte, version int64, value []byte) error
	delete(ctx context.Context, key []byte, version int64) error
}

// New returns a Store on db, a pool of dialect d: sqldialect.Postgres
// (PostgreSQL 9.5 or later) or sqldialect.MySQL (MySQL 5.7 or later, or
// MariaDB 10.3 or later, with InnoDB). It does no I/O: run EnsureSchema, or
// the statement of Schema in a migration, before use. It returns an error for
// a nil db, an unknown dialect or a bad option.
func New(db *sql.DB, d sqldialect.Dialect, opts ...Option) (*Store, error) {
	s := &Store{db: db, dialect: d, table: DefaultTable, maxValue: cas.DefaultMaxValueSize}
	for _, o := range opts {
		o(s)
	}
	if db == nil {
		return nil, errors.New("sqlcas: New needs a non-nil *sql.DB")
	}
	if err := d.Validate(); err != nil {
		return nil, fmt.Errorf("sqlcas: New: %w", err)
	}
	if err := sqlname.Table("sqlcas: table", s.table); err != nil {
		return nil, err
	}
	if s.maxValue <= 0 {
		return nil, fmt.Errorf("sqlcas: maximum value size %d must be positive", s.maxValue)
	}
	s.ops = newPostgres(db, s.table)
	if d == sqldialect.MySQL {
		s.ops = newMySQL(db, s.table)
	}
	return s, nil
}

// Get implements cas.Store.
func (s *Store) Get(ctx context.Context, key string) (cas.Item, error) {
	if err := s.check(ctx, key, nil); err != nil {
		return cas.Item{}, err
	}
	value, version, err := s.ops.get(ctx, []byte(key))
	if err != nil {
		return cas.Item{}, fmt.Errorf("sqlcas: get %q: %w", key, err)
	}
	return cas.Item{Key: key, Value: value, Version: uint64(version)}, nil
}

// Create implements cas.Store.
func (s *Store) Create(ctx context.Context, key string, value []byte) (cas.Item, error) {
	if err := s.check(ctx, key, value); err != nil {
		return cas.Item{}, err
	}
	version, err := s.ops.create(ctx, []byte(key), nonNil(value))
	if err != nil {
		return cas.Item{}, fmt.Errorf("sqlcas: create %q: %w", key, err)
	}
	return cas.Item{Key: key, Value: clone(value), Version: uint64(version)}, nil
}

// CompareAndSwap implements cas.Store.
func (s *Store) CompareAndSwap(ctx context.Context, key string, version uint64, value []byte) (cas.Item, error) {
	if err := s.check(ctx, key, value); err != nil {
		return cas.Item{}, err
	}
	if err := s.ops.swap(ctx, []byte(key), param(version), nonNil(value)); err != nil {
		return cas.Item{}, fmt.Errorf("sqlcas: compare-and-swap %q at version %d: %w", key, version, err)
	}
	return cas.Item{Key: key, Value: clone(value), Version: version + 1}, nil
}

// CompareAndDelete implements cas.Store.
func (s *Store) CompareAndDelete(ctx context.Context, key string, version uint64) error {
	if err := s.check(ctx, key, nil); err != nil {
		return err
	}
	if err := s.ops.delete(ctx, []byte(key), param(version)); err != nil {
		return fmt.Errorf("sqlcas: compare-and-delete %q at version %d: %w", key, version, err)
	}
	return nil
}

// check is the validation every call starts with, before any I/O.
func (s *Store) check(ctx context.Context, key string, value []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := cas.ValidateKey(key, cas.DefaultMaxKeyLen); err != nil {
		return err
	}
	return cas.ValidateValue(value, s.maxValue)
}

// param turns a caller's version into the bigint parameter of a statement.
// Stored versions are at least 1 and at most math.MaxInt64, so a version
// above that can never match: it becomes 0, which never matches either.
func param(version uint64) int64 {
	if version > math.MaxInt64 {
		return 0
	}
	return int64(version)
}

// outcome decides a refused conditional write from the row as one consistent
// read saw it: found false when there is no row. It returns nil when the row
// is live at version, which cannot explain the refusal: a concurrent write
// committed in between and the operation must run again.
func outcome(found, deleted bool, current, version int64) error {
	switch {
	case !found || deleted:
		return cas.ErrNotFound
	case current != version:
		return fmt.Errorf("%w: version is %d", cas.ErrConflict, current)
	}
	return nil
}

func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

func clone(b []byte) []byte { return append([]byte{}, b...) }
