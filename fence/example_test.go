package fence_test

import (
	"context"
	"database/sql"
	"errors"
	"log"

	"github.com/racefree/racefree/fence"
	"github.com/racefree/racefree/lock"
	"github.com/racefree/racefree/sqldialect"
)

// A lock holder writes a document row with its lease's token: if it was
// paused past its lease and another holder has written since, the write is
// refused instead of overwriting the newer data. The docs table has a
// "fence BIGINT NOT NULL DEFAULT 0" column.
func ExampleRow_Update() {
	ctx := context.Background()
	var db *sql.DB // sql.Open("pgx", dsn)
	var locker lock.Locker
	docs := fence.Row{Dialect: sqldialect.Postgres, Table: "docs"}

	lease, err := locker.Acquire(ctx, "doc-1")
	if err != nil {
		log.Fatal(err)
	}
	defer func() { _ = lease.Release(ctx) }()
	// ... work, perhaps paused for longer than the lease's TTL ...
	err = docs.Update(ctx, db, 1, lease.Token(), "body = $1", "new text")
	if errors.Is(err, fence.ErrStaleToken) {
		log.Print("a newer holder has written: reload and start over")
	}
}

// A holder writes several tables in one transaction, fenced by a fence
// table: Admit first, then the writes, then commit.
func ExampleTable_Admit() {
	ctx := context.Background()
	var db *sql.DB // sql.Open("mysql", dsn)
	var lease lock.Lease
	fences := fence.Table{Dialect: sqldialect.MySQL} // EnsureSchema once, or Schema in a migration

	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer func() { _ = tx.Rollback() }()
	if err := fences.Admit(ctx, tx, "report/2024-06", lease.Token()); err != nil {
		log.Print(err) // ErrStaleToken: a newer holder owns the report
		return
	}
	// ... INSERT and UPDATE the report's rows in tx ...
	if err := tx.Commit(); err != nil {
		log.Fatal(err)
	}
}
