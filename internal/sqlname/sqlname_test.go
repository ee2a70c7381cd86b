package sqlname

import (
	"errors"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

func TestNames(t *testing.T) {
	for _, good := range []string{"t", "_t1", "Accounts", "racefree_cas"} {
		if err := Column("column", good); err != nil {
			t.Errorf("Column(%q): %v", good, err)
		}
		if err := Table("table", "public."+good); err != nil {
			t.Errorf("Table(public.%q): %v", good, err)
		}
	}
	for _, bad := range []string{"", "1t", "t;drop table x", "a b", "t\"", "é", strings.Repeat("a", 64), "a.b.c", ".a"} {
		if err := Column("column", bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("Column(%q) = %v, want ErrInvalid", bad, err)
		}
		if err := Table("table", bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("Table(%q) = %v, want ErrInvalid", bad, err)
		}
	}
}

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
