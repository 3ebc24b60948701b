// Command softfk is a PostgreSQL proxy that enforces soft foreign keys:
// relationships declared in its configuration instead of in the schema.
//
// Usage:
//
//	softfk serve --config FILE                 run the proxy
//	softfk check-config --config FILE          validate a configuration
//	softfk audit --config FILE --dsn URL       find rows that already violate it
//	softfk discover --dsn URL                  suggest relationships
//	softfk ddl --config FILE                   SQL to harden them into real FKs
//	softfk demo                                try it on a throwaway Postgres
//
// Run "softfk help" for every command and flag.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/debug"

	"github.com/softfk/softfk/config"
)

// exitUsage is the status for a bad command line or configuration.
const exitUsage = 2

// command is one subcommand: its name, a one-line summary and its entry
// point, which returns the process exit status.
type command struct {
	name    string
	summary string
	run     func(args []string, stdout, stderr io.Writer) int
}

func commands() []command {
	return []command{
		{"serve", "run the proxy until SIGINT/SIGTERM (SIGHUP reloads the relationships)", runServe},
		{"check-config", "validate a configuration file (and, with --dsn, the schema it names)", runCheckConfig},
		{"audit", "find rows that already violate the relationships (orphans); --fix cleans them", runAudit},
		{"discover", "suggest relationships from hard foreign keys and naming conventions (YAML)", runDiscover},
		{"ddl", "print the SQL that turns the relationships into FOREIGN KEY constraints", runDDL},
		{"demo", "start a throwaway Postgres with an example schema behind softfk (Ctrl-C removes it)", runDemo},
	}
}

// defaultGCPercent is the garbage collector's target when GOGC is not set.
// softfk's live heap is small (a few MB: sessions and caches), so with Go's
// default of 100 a write-heavy load makes it collect many times a second:
// checking 100-row INSERTs of literals, 200 cut softfk's CPU by about a
// third for about 3 MB more memory.
const defaultGCPercent = 200

func main() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(defaultGCPercent)
	}
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run dispatches to a subcommand and returns the exit status.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(stdout)
		return 0
	}
	for _, c := range commands() {
		if c.name == args[0] {
			return c.run(args[1:], stdout, stderr)
		}
	}
	fmt.Fprintf(stderr, "softfk: unknown command %q\n\n", args[0])
	usage(stderr)
	return exitUsage
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "softfk enforces soft foreign keys as a PostgreSQL proxy.")
	fmt.Fprintln(w, "\nCommands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-13s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nRun \"softfk COMMAND -h\" for the flags of a command.")
}

// newFlagSet returns a flag set that reports errors instead of exiting.
func newFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("softfk "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// parseFlags parses args, mapping -h to status 0 and other errors to 2.
func parseFlags(fs *flag.FlagSet, args []string) (int, bool) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0, false
		}
		return exitUsage, false
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(fs.Output(), "%s: unexpected argument %q\n", fs.Name(), fs.Arg(0))
		return exitUsage, false
	}
	return 0, true
}

// loadConfig loads the configuration file path (--config) for the command
// whose flags fs holds, printing what is wrong with it, or that it is
// missing, to the flags' output (stderr); false means the command ends
// with exitUsage.
func loadConfig(fs *flag.FlagSet, path string) (*config.Config, bool) {
	if path == "" {
		fmt.Fprintf(fs.Output(), "%s: --config FILE is required\n", fs.Name())
		return nil, false
	}
	cfg, err := config.Load(path)
	if err != nil {
		fmt.Fprintln(fs.Output(), err)
		return nil, false
	}
	return cfg, true
}
