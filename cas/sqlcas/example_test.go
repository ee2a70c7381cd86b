package sqlcas_test

import (
	"context"
	"database/sql"
	"fmt"
	"log"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" driver

	"github.com/racefree/racefree/cas"
	"github.com/racefree/racefree/cas/sqlcas"
	"github.com/racefree/racefree/occ"
	"github.com/racefree/racefree/sqldialect"
)

// A seat map kept as versioned items in PostgreSQL; occ.Update reads,
// changes and writes back without losing a concurrent booking. (MySQL:
// sql.Open("mysql", dsn) and sqldialect.MySQL.)
func Example() {
	ctx := context.Background()
	db, err := sql.Open("pgx", "postgres://app@127.0.0.1:5432/app")
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()

	store, err := sqlcas.New(db, sqldialect.Postgres)
	if err != nil {
		log.Fatal(err)
	}
	if err := store.EnsureSchema(ctx); err != nil {
		log.Fatal(err)
	}
	it, _, err := occ.Update(ctx, store, "show/42/seat/7A", func(cur cas.Item) ([]byte, error) {
		if len(cur.Value) > 0 {
			return nil, fmt.Errorf("seat 7A already taken by %s", cur.Value)
		}
		return []byte("alice"), nil
	}, occ.CreateIfMissing())
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("booked at version", it.Version)
}

// Schema prints the table for a migration tool.
func ExampleStore_Schema() {
	store, err := sqlcas.New(&sql.DB{}, sqldialect.MySQL, sqlcas.WithTable("app.kv"))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(store.Schema())
	// Output:
	// CREATE TABLE IF NOT EXISTS app.kv (
	// 	item_key   VARBINARY(512) NOT NULL PRIMARY KEY,
	// 	item_value LONGBLOB       NOT NULL,
	// 	version    BIGINT         NOT NULL,
	// 	deleted    BOOLEAN        NOT NULL DEFAULT FALSE
	// ) ENGINE=InnoDB
}
