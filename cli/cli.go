// Package cli implements kinwatch's subcommands. Each subcommand lives in its own file as a function
// of the form run<Name>(ctx, args, stdio) error; Main only dispatches, so tests call the subcommands
// exactly as the binary does.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"sort"
)

// Stdio is what a subcommand may read and write.
type Stdio struct {
	In       io.Reader
	Out, Err io.Writer
}

type subcommand struct {
	summary string
	run     func(ctx context.Context, args []string, stdio Stdio) error
}

var subcommands = map[string]subcommand{}

func register(name, summary string, run func(context.Context, []string, Stdio) error) {
	subcommands[name] = subcommand{summary: summary, run: run}
}

// errUsage marks an error whose message is a usage complaint (exit status 2).
var errUsage = errors.New("usage")

// Main runs the subcommand named by args[0] and returns the process exit status.
func Main(ctx context.Context, args []string, in io.Reader, out, errOut io.Writer) int {
	stdio := Stdio{In: in, Out: out, Err: errOut}
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(errOut)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	sc, ok := subcommands[args[0]]
	if !ok {
		fmt.Fprintf(errOut, "kinwatch: unknown command %q\n\n", args[0])
		usage(errOut)
		return 2
	}
	err := sc.run(ctx, args[1:], stdio)
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		fmt.Fprintf(errOut, "kinwatch %s: %v\n", args[0], err)
		return 2
	default:
		fmt.Fprintf(errOut, "kinwatch %s: %v\n", args[0], err)
		return 1
	}
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "kinwatch — an open server for children's GPS watches (the 3G/SeTracker protocol)")
	fmt.Fprintln(w, "\nUsage: kinwatch <command> [flags]\n\nCommands:")
	names := make([]string, 0, len(subcommands))
	for n := range subcommands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-10s %s\n", n, subcommands[n].summary)
	}
	fmt.Fprintln(w, "\nRun 'kinwatch <command> -h' for a command's flags.")
}

// newFlagSet returns a flag set that reports errors to stdio.Err instead of exiting.
func newFlagSet(name string, stdio Stdio) *flag.FlagSet {
	fs := flag.NewFlagSet("kinwatch "+name, flag.ContinueOnError)
	fs.SetOutput(stdio.Err)
	return fs
}

// usageErrorf wraps a usage complaint so Main exits with status 2.
func usageErrorf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errUsage, fmt.Sprintf(format, args...))
}
