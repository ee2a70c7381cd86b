package sqldialect_test

import (
	"database/sql"
	"fmt"

	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/racefree/racefree/sqldialect"
)

func ExampleOf() {
	db, err := sql.Open("pgx", "postgres://app@127.0.0.1:5432/shop") // sql.Open does not connect
	if err != nil {
		fmt.Println(err)
		return
	}
	defer db.Close()

	// The one value every SQL package of racefree takes:
	// sqllock.RowLock{Dialect: d}, sqlcas.New(db, d), occ.Table{Dialect: d},
	// fence.Row{Dialect: d}.
	d, err := sqldialect.Of(db)
	fmt.Println(d, err)
	// Output: postgres <nil>
}

func ExampleDialect_Rebind() {
	const debit = "UPDATE accounts SET balance = balance - ? WHERE id = ?"
	fmt.Println(sqldialect.Postgres.Rebind(debit))
	fmt.Println(sqldialect.MySQL.Rebind(debit))
	// Output:
	// UPDATE accounts SET balance = balance - $1 WHERE id = $2
	// UPDATE accounts SET balance = balance - ? WHERE id = ?
}

func ExampleDialect_Validate() {
	var d sqldialect.Dialect // not set
	fmt.Println(d.Validate())
	// Output: sqldialect: unknown dialect: none set (the zero Dialect); use sqldialect.Postgres or sqldialect.MySQL
}
