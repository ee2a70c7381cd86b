// Package workloadtest checks example programs: that each runs, that its
// unprotected strategy shows the race and that its protected strategies
// show none of it.
package workloadtest

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/racefree/racefree/examples/internal/workload"
)

// Check runs p with args and fails t unless it exits 0, runs at least one
// unprotected and one protected strategy, every unprotected strategy caused
// violations, and every protected strategy caused none and did some work.
// It returns the reports.
func Check(t *testing.T, p workload.Program, args ...string) []workload.Report {
	t.Helper()
	var out, errOut bytes.Buffer
	reports, code := workload.Exec(context.Background(), p, args, &out, &errOut)
	t.Logf("%s %s\n%s%s", p.Name, strings.Join(args, " "), out.String(), errOut.String())
	if code != 0 {
		t.Fatalf("%s %v: exit code %d: %s", p.Name, args, code, errOut.String())
	}
	if len(reports) == 0 {
		t.Fatalf("%s %v: no strategy ran", p.Name, args)
	}
	var protected, unprotected int
	for _, r := range reports {
		switch {
		case !r.Protected:
			unprotected++
			if r.Violations == 0 {
				t.Errorf("%s: the unprotected run %q caused no %s", p.Name, r.Strategy, r.Violation)
			}
		default:
			protected++
			if r.Violations != 0 {
				t.Errorf("%s: %q reported %d %s", p.Name, r.Strategy, r.Violations, r.Violation)
			}
			if r.OK == 0 {
				t.Errorf("%s: %q completed no operation", p.Name, r.Strategy)
			}
		}
	}
	if unprotected == 0 || protected == 0 {
		t.Errorf("%s: ran %d unprotected and %d protected strategies, want at least one of each", p.Name, unprotected, protected)
	}
	if !strings.Contains(out.String(), reports[0].Strategy) {
		t.Errorf("%s: the summary does not name the strategy %q", p.Name, reports[0].Strategy)
	}
	return reports
}

// CheckBadArgs fails t unless each of the argument lists makes p exit with
// code 2 and a message on stderr, without running anything.
func CheckBadArgs(t *testing.T, p workload.Program, argLists ...[]string) {
	t.Helper()
	for _, args := range argLists {
		var out, errOut bytes.Buffer
		reports, code := workload.Exec(context.Background(), p, args, &out, &errOut)
		if code != 2 {
			t.Errorf("%s %v: exit code %d, want 2 (stderr %q)", p.Name, args, code, errOut.String())
		}
		if errOut.Len() == 0 {
			t.Errorf("%s %v: no message on stderr", p.Name, args)
		}
		if len(reports) != 0 {
			t.Errorf("%s %v: ran %d strategies despite bad arguments", p.Name, args, len(reports))
		}
	}
}
