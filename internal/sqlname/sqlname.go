// Package sqlname validates the SQL identifiers racefree's SQL helpers splice
// into statements (table and column names given as options), so that a name
// can never carry SQL of its own.
package sqlname

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// ErrInvalid rejects a name that is not a plain SQL identifier.
var ErrInvalid = errors.New("invalid SQL identifier")

// maxLen is the shortest identifier limit of the supported databases
// (PostgreSQL truncates at 63 bytes, MySQL refuses more than 64).
const maxLen = 63

var (
	column = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	table  = regexp.MustCompile(`^([A-Za-z_][A-Za-z0-9_]*\.)?[A-Za-z_][A-Za-z0-9_]*$`)
)

// Column returns an error wrapping ErrInvalid unless name is a plain
// identifier: an ASCII letter or underscore, then letters, digits or
// underscores, at most 63 bytes. what names the option in the message.
func Column(what, name string) error {
	if len(name) > maxLen || !column.MatchString(name) {
		return fmt.Errorf("%w: %s %q must match [A-Za-z_][A-Za-z0-9_]* and be at most %d bytes", ErrInvalid, what, name, maxLen)
	}
	return nil
}

// Table is Column for a table name, which may be qualified by a schema
// (PostgreSQL) or database (MySQL): "name" or "schema.name".
func Table(what, name string) error {
	if !table.MatchString(name) {
		return fmt.Errorf("%w: %s %q must be an identifier or schema.identifier ([A-Za-z_][A-Za-z0-9_]*)", ErrInvalid, what, name)
	}
	for _, part := range strings.Split(name, ".") {
		if len(part) > maxLen {
			return fmt.Errorf("%w: %s %q has a part longer than %d bytes", ErrInvalid, what, name, maxLen)
		}
	}
	return nil
}
