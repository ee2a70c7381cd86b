package workload

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
)

// ErrUsage marks an error caused by the command line: Exec prints it and
// exits with code 2, as the flag package does for an unknown flag.
var ErrUsage = errors.New("usage")

// Usagef returns an error wrapping ErrUsage.
func Usagef(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrUsage}, args...)...)
}

// Program is one example program.
type Program struct {
	// Name is the program's name, as in go run ./examples/<Name>.
	Name string
	// Setup registers the program's flags on fs and returns what to run once
	// they are parsed.
	Setup func(fs *flag.FlagSet) Runner
}

// Runner runs a program's strategies, prints a line per strategy to out and
// returns their reports. It returns an error wrapping ErrUsage for a flag
// value it cannot work with.
type Runner func(ctx context.Context, out io.Writer) ([]Report, error)

// Main runs p with the process's arguments and exits: 0 when every run
// worked, 2 on a bad command line, 1 on any other failure. Interrupt cancels
// the run.
func Main(p Program) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	_, code := Exec(ctx, p, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// Exec parses args for p, runs it, and returns its reports and the exit code
// Main would use. Messages go to stderr.
func Exec(ctx context.Context, p Program, args []string, stdout, stderr io.Writer) ([]Report, int) {
	fs := flag.NewFlagSet(p.Name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	run := p.Setup(fs)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, 0
		}
		return nil, 2 // the flag package has printed the error and the usage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "%s: unexpected arguments %q (all input is given by flags; see -h)\n", p.Name, fs.Args())
		return nil, 2
	}
	reports, err := run(ctx, stdout)
	switch {
	case errors.Is(err, ErrUsage):
		fmt.Fprintf(stderr, "%s: %v (see -h)\n", p.Name, err)
		return reports, 2
	case err != nil:
		fmt.Fprintf(stderr, "%s: %v\n", p.Name, err)
		return reports, 1
	}
	return reports, 0
}

// Strategy is one way of running a program's workload.
type Strategy struct {
	// Name labels the strategy's line, e.g. "lock (redis)".
	Name string
	// Protected is false for the strategy that shows the race.
	Protected bool
	// Run runs the workload once and reports what happened, with its
	// Violation and Violations filled in.
	Run func(ctx context.Context) (Report, error)
}

// Compare runs each strategy in turn, prints its summary line to out and
// returns the reports. It stops at the first strategy that fails.
func Compare(ctx context.Context, out io.Writer, strategies ...Strategy) ([]Report, error) {
	var reports []Report
	for _, s := range strategies {
		r, err := s.Run(ctx)
		r.Strategy, r.Protected = s.Name, s.Protected
		if err != nil {
			return reports, fmt.Errorf("%s: %w", s.Name, err)
		}
		fmt.Fprintln(out, r)
		reports = append(reports, r)
	}
	return reports, nil
}
