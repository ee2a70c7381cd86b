package sqlcas

import (
	"errors"
	"testing"

	"github.com/racefree/racefree/cas"
)

// TestOutcome checks how a refused write is decided from the row one read saw.
func TestOutcome(t *testing.T) {
	cases := []struct {
		name             string
		found, deleted   bool
		current, version int64
		want             error
	}{
		{"no row", false, false, 0, 3, cas.ErrNotFound},
		{"tombstone at the version", true, true, 3, 3, cas.ErrNotFound},
		{"tombstone at another version", true, true, 5, 3, cas.ErrNotFound},
		{"live at a later version", true, false, 5, 3, cas.ErrConflict},
		{"live at an earlier version", true, false, 2, 3, cas.ErrConflict},
		{"live at the version: undecided, run again", true, false, 3, 3, nil},
	}
	for _, c := range cases {
		err := outcome(c.found, c.deleted, c.current, c.version)
		if c.want == nil && err != nil || c.want != nil && !errors.Is(err, c.want) {
			t.Errorf("%s: got %v, want %v", c.name, err, c.want)
		}
	}
}
