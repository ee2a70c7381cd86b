package testenv

import (
	"context"
	"database/sql"
	"testing"

	"github.com/go-sql-driver/mysql"
	tcmariadb "github.com/testcontainers/testcontainers-go/modules/mariadb"
)

// MariaDBImage is the image of the MariaDB container (when no endpoint is given).
const MariaDBImage = "mariadb:10.11"

// MySQLDSNVar is the DSN (go-sql-driver/mysql format) of a MySQL or MariaDB user
// allowed to create and drop databases.
const MySQLDSNVar = "RACEFREE_MYSQL_DSN"

var mysqlContainer = shared{start: func(ctx context.Context) (string, error) {
	c, err := tcmariadb.Run(ctx, MariaDBImage, tcmariadb.WithDatabase("racefree"),
		tcmariadb.WithUsername("root"), tcmariadb.WithPassword("racefree"))
	if c != nil {
		if terr := track(c.GetContainerID()); terr != nil && err == nil {
			err = terr
		}
	}
	if err != nil {
		return "", err
	}
	return c.ConnectionString(ctx, "parseTime=true")
}}

// MySQLDSN returns the DSN (go-sql-driver/mysql format, parseTime=true) of a
// database created for the test and dropped when the test ends. Every call of one
// test returns the same database.
func MySQLDSN(t testing.TB) string {
	t.Helper()
	base := endpoint(t, "mysql", MySQLDSNVar, &mysqlContainer)
	return memo(t, "mysql", func() string {
		cfg, err := mysql.ParseDSN(base)
		if err != nil {
			t.Fatalf("testenv: %s: %v", MySQLDSNVar, err)
		}
		name := Prefix(t)
		ctx := setupContext(t)
		db, err := sql.Open("mysql", base)
		if err == nil {
			_, err = db.ExecContext(ctx, "CREATE DATABASE "+name)
		}
		if err != nil {
			t.Fatalf("testenv: MySQL (%s at %s): create database %s: %v", MySQLDSNVar, cfg.Addr, name, err)
		}
		t.Cleanup(func() {
			if _, err := db.ExecContext(ctx, "DROP DATABASE "+name); err != nil {
				t.Errorf("testenv: MySQL: drop database %s: %v", name, err)
			}
			_ = db.Close()
		})
		cfg.DBName = name
		cfg.ParseTime = true
		return cfg.FormatDSN()
	})
}

// MySQL returns a new *sql.DB (driver "mysql") on MySQLDSN(t), closed when the test
// ends.
func MySQL(t testing.TB) *sql.DB {
	t.Helper()
	db, err := sql.Open("mysql", MySQLDSN(t))
	if err != nil {
		t.Fatalf("testenv: MySQL: %v", err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}
