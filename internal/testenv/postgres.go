package testenv

import (
	"context"
	"database/sql"
	"net/url"
	"strings"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver
	tcpostgres "github.com/testcontainers/testcontainers-go/modules/postgres"
)

// PostgresImage is the image of the PostgreSQL container (when no endpoint is given).
const PostgresImage = "postgres:15"

// PostgresDSNVar is the DSN (URL form) of a PostgreSQL database where testenv may
// create schemas.
const PostgresDSNVar = "RACEFREE_POSTGRES_DSN"

var postgresContainer = shared{start: func(ctx context.Context) (string, error) {
	c, err := tcpostgres.Run(ctx, PostgresImage,
		tcpostgres.WithDatabase("racefree"), tcpostgres.WithUsername("postgres"),
		tcpostgres.WithPassword("racefree"), tcpostgres.BasicWaitStrategies())
	if c != nil {
		if terr := track(c.GetContainerID()); terr != nil && err == nil {
			err = terr
		}
	}
	if err != nil {
		return "", err
	}
	return c.ConnectionString(ctx, "sslmode=disable")
}}

// PostgresDSN returns the DSN of a schema created for the test and dropped (with
// everything in it) when the test ends. The DSN sets search_path to that schema,
// so unqualified tables land there. It works with pgx.Connect, pgxpool and the
// database/sql driver "pgx". Every call of one test returns the same schema.
func PostgresDSN(t testing.TB) string {
	t.Helper()
	base := endpoint(t, "postgres", PostgresDSNVar, &postgresContainer)
	return memo(t, "postgres", func() string {
		schema := Prefix(t)
		ctx := setupContext(t)
		db, err := sql.Open("pgx", base)
		if err == nil {
			_, err = db.ExecContext(ctx, "CREATE SCHEMA "+schema)
		}
		if err != nil {
			t.Fatalf("testenv: PostgreSQL (%s): create schema %s: %v", PostgresDSNVar, schema, err)
		}
		t.Cleanup(func() {
			if _, err := db.ExecContext(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
				t.Errorf("testenv: PostgreSQL: drop schema %s: %v", schema, err)
			}
			_ = db.Close()
		})
		return withSearchPath(base, schema)
	})
}

// withSearchPath adds search_path to a URL or keyword/value DSN.
func withSearchPath(dsn, schema string) string {
	if !strings.Contains(dsn, "://") {
		return dsn + " search_path=" + schema
	}
	u, err := url.Parse(dsn)
	if err != nil {
		return dsn + "&search_path=" + schema
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// Postgres returns a new *sql.DB (driver "pgx") on PostgresDSN(t), closed when the
// test ends.
func Postgres(t testing.TB) *sql.DB {
	t.Helper()
	db, err := sql.Open("pgx", PostgresDSN(t))
	if err != nil {
		t.Fatalf("testenv: PostgreSQL: %v", err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// SkipUpdates installs, on the PostgreSQL table of db, a BEFORE UPDATE
// trigger that returns NULL: every UPDATE of it then matches rows and writes
// none, as a trigger, rule or row-level security policy of a user's schema
// can make it do.
func SkipUpdates(t testing.TB, db *sql.DB, table string) {
	t.Helper()
	for _, stmt := range []string{
		`CREATE FUNCTION skip_write() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NULL; END $$`,
		`CREATE TRIGGER skip_write BEFORE UPDATE ON ` + table + ` FOR EACH ROW EXECUTE FUNCTION skip_write()`,
	} {
		if _, err := db.ExecContext(t.Context(), stmt); err != nil {
			t.Fatalf("testenv: %s: %v", stmt, err)
		}
	}
}
