package occ_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log"

	"github.com/racefree/racefree/occ"
	"github.com/racefree/racefree/sqldialect"
)

// An optimistic withdrawal from a row of the application's own table:
// read the balance and version, write it back only if nobody wrote in
// between, and retry on a conflict. On MySQL: sqldialect.MySQL and "balance = ?".
func ExampleTable_Update() {
	ctx := context.Background()
	var db *sql.DB // sql.Open("pgx", dsn); the table has a "version" column
	accounts := occ.Table{Dialect: sqldialect.Postgres, Name: "accounts"}

	stats, err := occ.Retry(ctx, "account 42", func(ctx context.Context) error {
		var balance, version int64
		err := db.QueryRowContext(ctx, `SELECT balance, version FROM accounts WHERE id = $1`, 42).Scan(&balance, &version)
		if err != nil {
			return err
		}
		if balance < 100 {
			return errors.New("insufficient funds")
		}
		_, err = accounts.Update(ctx, db, 42, version, "balance = $1", balance-100)
		return err // cas.ErrConflict makes Retry read again
	})
	if err != nil {
		log.Print(err)
		return
	}
	fmt.Println("withdrawn after", stats.Attempts, "attempts")
}
