package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/debug"
	"strings"

	"github.com/secgate/secgate/distlist"
	"github.com/secgate/secgate/templates"
)

// app is what a command runs with: its input and output streams and the
// environment, injected so that tests run commands in-process.
type app struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string
	// keyLookup finds published keys (list add -wkd); nil: the Web Key
	// Directory over HTTPS.
	keyLookup distlist.KeyLookup
}

// lookup is the app's key lookup.
func (a *app) lookup() distlist.KeyLookup {
	if a.keyLookup == nil {
		return distlist.WKD{}
	}
	return a.keyLookup
}

// command is one entry of the subcommand table.
type command struct {
	Name    string // one or two words: "init", "config check"
	Args    string // synopsis after the flags, e.g. "FILE"
	Summary string // one line for `secgate help`
	Run     func(ctx context.Context, a *app, c *command, args []string) error
}

// commands is the subcommand table, in the order `secgate help` lists it.
func commands() []*command {
	return []*command{
		{Name: "demo", Summary: "run the whole disclosure process once, in-process, on an accelerated clock", Run: runDemo},
		{Name: "init", Summary: "write a configuration, generate or import the team key, create the database", Run: runInit},
		{Name: "config check", Summary: "validate a configuration file and what it points to, without starting", Run: runConfigCheck},
		{Name: "config example", Summary: "print the annotated example configuration", Run: runConfigExample},
		{Name: "config reference", Summary: "print the configuration reference (markdown)", Run: runConfigReference},
		{Name: "backup", Args: "FILE", Summary: "write a consistent copy of the database (and of its archive, to FILE's .archive.db) to FILE, also while serve runs", Run: runBackup},
		{Name: "archive", Summary: "move the cases that ended before -before DATE, with nothing pending, into the archive database", Run: runArchive},
		{Name: "bench", Summary: "measure fan-out, intake, the gpg loop it replaces and peak memory, end to end", Run: runBench},
		{Name: "serve", Summary: "run the gateway, one per project: IMAP intake, outbox delivery, scheduler; metrics for all", Run: runServe},
		{Name: "project list", Summary: "list the projects the gateway serves: team address, team key, database, policy, cases", Run: runProjectList},
		{Name: "project show", Args: "NAME", Summary: "show one project: its file, team, key, mailbox, members, lists and cases", Run: runProjectShow},
		{Name: "project add", Args: "NAME", Summary: "write a new project's file (team address, passphrase source, policy, case prefix) into the projects directory", Run: runProjectAdd},
		{Name: "status", Summary: "ask the running gateway how each part is (IMAP, SMTP, scheduler, database); exit 1 when one is down", Run: runStatus},
		{Name: "case list", Summary: "list cases (-state S[,S], -open; -archive: the archived ones)", Run: runCaseList},
		{Name: "case show", Args: "REF", Summary: "show a case: fields, messages, timeline, audit chain and signed head (-text decrypts; -archive: an archived case)", Run: runCaseShow},
		{Name: "audit verify", Summary: "check every audit chain against the signed head (-head FILE: also a head a member kept; -archive: the archive's log)", Run: runAuditVerify},
		{Name: "audit sign", Summary: "sign the audit log as it is, once, for a database from before signed heads", Run: runAuditSign},
		{Name: "outbox", Summary: "list outgoing mail: recipient, state, attempts (-case REF, -failed, -state S)", Run: runOutbox},
		{Name: "outbox show", Args: "ID", Summary: "show one outbox row with its delivery history", Run: runOutboxShow},
		{Name: "outbox retry", Args: "ID", Summary: "send a deferred or failed row again, now", Run: runOutboxRetry},
		{Name: "outbox fail", Args: "ID", Summary: "give up on a queued or deferred row", Run: runOutboxFail},
		{Name: "quarantine list", Summary: "list the inbound messages held in quarantine", Run: runQuarantineList},
		{Name: "quarantine show", Args: "ID", Summary: "show a held message's metadata and header, never its body", Run: runQuarantineShow},
		{Name: "quarantine release", Args: "ID", Summary: "process a held message again", Run: runQuarantineRelease},
		{Name: "list show", Args: "[NAME]", Summary: "show the distribution lists, or one list's recipients and keys", Run: runListShow},
		{Name: "list add", Args: "LIST ADDRESS", Summary: "add a recipient to a list (-key FILE)", Run: runListAdd},
		{Name: "list remove", Args: "LIST ADDRESS", Summary: "remove a recipient from a list", Run: runListRemove},
		{Name: "list create", Args: "NAME", Summary: "create a list (-kind embargo|public|team)", Run: runListCreate},
		{Name: "list delete", Args: "NAME", Summary: "delete a list and its entries", Run: runListDelete},
		{Name: "key import", Args: "FILE", Summary: "import a public key (-list L -address A puts it on a list)", Run: runKeyImport},
		{Name: "key show", Args: "FINGERPRINT|ADDRESS", Summary: "show a stored key, its status and who uses it", Run: runKeyShow},
		{Name: "key check", Summary: "check every key in use now and through a date (-through DATE)", Run: runKeyCheck},
		{Name: "key report", Summary: "print the weekly key report: keys that expire or cannot be used, the signed audit head", Run: runKeyReport},
		{Name: "key rotate", Summary: "replace the team key: a new key (as init makes), a statement both keys sign, the team and distributors told; the old key opens mail for -overlap", Run: runKeyRotate},
		{Name: "key retire", Summary: "end the overlap of a rotation: mail encrypted to the old team key gets the wrong-key answer", Run: runKeyRetire},
		{Name: "key refresh", Summary: "look every key up in its holder's Web Key Directory now: a later state of the same key replaces ours, another key is only reported", Run: runKeyRefresh},
		{Name: "wkd export", Args: "DIR", Summary: "write the Web Key Directory of the team keys (advanced and direct methods) under DIR/.well-known", Run: runWKDExport},
		{Name: "template list", Summary: "list the texts and where each comes from (built in or override)", Run: runTemplateList},
		{Name: "template render", Args: "NAME", Summary: "preview a text with sample data or a case's (-case REF)", Run: runTemplateRender},
	}
}

// run dispatches args to a command and returns the exit code. Errors are
// printed as one line; a panic is reported without a stack trace unless
// SECGATE_TRACE is set.
func run(ctx context.Context, args []string, a *app) int {
	return runWith(ctx, a, commands, args)
}

// runWith is run over a given command table.
func runWith(ctx context.Context, a *app, table func() []*command, args []string) (code int) {
	defer func() {
		if r := recover(); r != nil {
			fmt.Fprintf(a.stderr, "secgate: internal error: %v (please report it; set SECGATE_TRACE=1 for details)\n", r)
			if a.getenv("SECGATE_TRACE") != "" {
				a.stderr.Write(debug.Stack())
			}
			code = 1
		}
	}()
	if len(args) == 0 {
		usage(a.stderr, table())
		return 2
	}
	if args[0] == "help" || args[0] == "-h" || args[0] == "-help" || args[0] == "--help" {
		if len(args) > 1 {
			if c, _ := lookup(table(), args[1:]); c != nil && (len(args) > 2 || len(subcommands(table(), args[1])) == 0 || c.Name == args[1]) {
				return runWith(ctx, a, table, append(strings.Fields(c.Name), "-h"))
			}
			if group := groupOf(table(), args[1]); len(group) > 0 {
				fmt.Fprintf(a.stdout, "usage: secgate %s SUBCOMMAND [flags] [arguments]\n\nsubcommands:\n", args[1])
				for _, c := range group {
					fmt.Fprintf(a.stdout, "  %-19s %s\n", c.Name, c.Summary)
				}
				fmt.Fprintf(a.stdout, "\nRun `secgate help %s SUBCOMMAND` for its flags.\n", args[1])
				return 0
			}
			fmt.Fprintf(a.stderr, "secgate: unknown command %q (see secgate help)\n", strings.Join(args[1:], " "))
			return 2
		}
		usage(a.stdout, table())
		return 0
	}
	c, rest := lookup(table(), args)
	if c == nil {
		if subs := subcommands(table(), args[0]); len(subs) > 0 {
			fmt.Fprintf(a.stderr, "secgate: %s needs a subcommand: %s (see secgate help %s)\n", args[0], strings.Join(subs, ", "), args[0])
		} else {
			fmt.Fprintf(a.stderr, "secgate: unknown command %q (see secgate help)\n", args[0])
		}
		return 2
	}
	err := c.Run(ctx, a, c, rest)
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	}
	fmt.Fprintf(a.stderr, "secgate %s: %s\n", c.Name, oneLine(err))
	return 1
}

// lookup finds the command named by the first one or two words of args.
func lookup(table []*command, args []string) (*command, []string) {
	for n := min(2, len(args)); n >= 1; n-- {
		name := strings.Join(args[:n], " ")
		for _, c := range table {
			if c.Name == name {
				return c, args[n:]
			}
		}
	}
	return nil, nil
}

// groupOf returns the commands named group or starting with it: the
// commands `secgate help GROUP` lists.
func groupOf(table []*command, group string) []*command {
	var out []*command
	for _, c := range table {
		if g, _, _ := strings.Cut(c.Name, " "); g == group {
			out = append(out, c)
		}
	}
	return out
}

// subcommands lists the second words of the commands starting with group.
func subcommands(table []*command, group string) []string {
	var subs []string
	for _, c := range table {
		if g, sub, ok := strings.Cut(c.Name, " "); ok && g == group {
			subs = append(subs, sub)
		}
	}
	return subs
}

func usage(w io.Writer, table []*command) {
	fmt.Fprintf(w, "secgate: mail gateway for coordinated vulnerability disclosure\n\nusage: secgate COMMAND [flags] [arguments]\n\ncommands:\n")
	for _, c := range table {
		fmt.Fprintf(w, "  %-19s %s\n", c.Name, c.Summary)
	}
	fmt.Fprintf(w, "\nRun `secgate help COMMAND` for its flags. Most commands read -config FILE (default secgate.toml);\nin a gateway of several projects, -project NAME picks one.\n")
}

// oneLine joins a multi-line error (errors.Join) into one line.
func oneLine(err error) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(err.Error(), "\n", "; ")), " ")
}

// flagSet returns the flags of command c, with usage text.
func (c *command) flagSet(a *app) *flag.FlagSet {
	fs := flag.NewFlagSet("secgate "+c.Name, flag.ContinueOnError)
	fs.Usage = func() {
		out := fs.Output()
		synopsis := "secgate " + c.Name + " [flags]"
		if c.Args != "" {
			synopsis += " " + c.Args
		}
		fmt.Fprintf(out, "usage: %s\n\n%s\n", synopsis, c.Summary)
		n := 0
		fs.VisitAll(func(*flag.Flag) { n++ })
		if n > 0 {
			fmt.Fprintf(out, "\nflags:\n")
			fs.PrintDefaults()
		}
	}
	return fs
}

// configSel is what the common flags -config and -project select: the
// configuration file and, in a gateway of several projects, the project a
// command is about.
type configSel struct {
	path, project string
	set           *ProjectSet // once loaded
}

// configFlag adds the common -config and -project flags.
func configFlag(fs *flag.FlagSet) *configSel {
	s := &configSel{}
	fs.StringVar(&s.path, "config", "secgate.toml", "configuration `FILE`")
	fs.StringVar(&s.project, "project", "", "the project `NAME` to act on, in a gateway of several projects (secgate project list names them)")
	return s
}

// load loads the configuration and its projects, with a hint when the
// file does not exist.
func (s *configSel) load() (*ProjectSet, error) {
	if s.set != nil {
		return s.set, nil
	}
	set, err := LoadProjects(s.path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w (create one with secgate init, or pass -config FILE)", err)
	}
	if err != nil {
		return nil, err
	}
	if s.project != "" && set.Project(s.project) == nil {
		return nil, fmt.Errorf("-project %s: %s has no such project (%s: %s)", s.project, s.path,
			templates.Count(len(set.Projects), "project"), strings.Join(set.Names(), ", "))
	}
	s.set = set
	return set, nil
}

// projects returns the projects the command is about: the one -project
// names, or every one.
func (s *configSel) projects() ([]*Config, error) {
	set, err := s.load()
	if err != nil {
		return nil, err
	}
	if s.project != "" {
		return []*Config{set.Project(s.project)}, nil
	}
	return set.Projects, nil
}

// several reports whether the command is about more than one project:
// its output names each row's project or has a heading for each.
func (s *configSel) several() bool {
	ps, err := s.projects()
	return err == nil && len(ps) > 1
}

// one returns the one project a command acts on: the one -project names,
// or the only one.
func (s *configSel) one() (*Config, error) {
	ps, err := s.projects()
	if err != nil {
		return nil, err
	}
	if len(ps) == 1 {
		return ps[0], nil
	}
	return nil, s.needProject(ps)
}

// needProject is the error of a command that acts on one project among ps
// without -project.
func (s *configSel) needProject(ps []*Config) error {
	var names []string
	for _, p := range ps {
		names = append(names, p.Name)
	}
	return fmt.Errorf("%s serves %s (%s): pass -project NAME", s.path, templates.Count(len(ps), "project"), strings.Join(names, ", "))
}

// forCase returns the project of case ref: the one -project names, the
// only one, or the one whose database holds ref.
func (s *configSel) forCase(ref string) (*Config, error) {
	ps, err := s.projects()
	if err != nil || len(ps) == 1 {
		return s.one()
	}
	var found []*Config
	for _, p := range ps {
		ok, err := hasCase(p.Gateway.Database, strings.ToUpper(ref))
		if err != nil {
			return nil, fmt.Errorf("project %s: %w", p.Name, err)
		}
		if ok {
			found = append(found, p)
		}
	}
	switch len(found) {
	case 1:
		return found[0], nil
	case 0:
		return nil, fmt.Errorf("no case %s in any of the %s (see secgate case list)", ref, templates.Count(len(ps), "project"))
	}
	names := found[0].Name
	for i, p := range found[1:] {
		sep := ", "
		if i == len(found)-2 {
			sep = " and "
		}
		names += sep + p.Name
	}
	return nil, fmt.Errorf("case %s is in projects %s: pass -project NAME", ref, names)
}

// inSeveral names the project of err when a command is about several.
func inSeveral(several bool, cfg *Config, err error) error {
	if !several {
		return err
	}
	return fmt.Errorf("project %s: %w", cfg.Name, err)
}

// perProject runs run for each project in ps. With one it
// writes as it always has; with several, each project's output comes under
// a heading naming it (or, with -json, as {"NAME": output, ...}). Every
// project is run; the command fails when one failed, naming it.
// eachView runs fn with the database view of each project sel names (the
// one -project names, or every one), the output under a heading for each
// as perProject writes it. withKey unlocks the team key too.
func eachView(ctx context.Context, a *app, sel *configSel, asJSON, withKey bool, fn func(a *app, v *view) error) error {
	projects, err := sel.projects()
	if err != nil {
		return err
	}
	return perProject(a, projects, asJSON, func(a *app, cfg *Config) error {
		v, err := openView(ctx, a, cfg, withKey)
		if err != nil {
			return err
		}
		defer v.Close()
		return fn(a, v)
	})
}

func perProject(a *app, ps []*Config, asJSON bool, run func(a *app, cfg *Config) error) error {
	if len(ps) == 1 {
		return run(a, ps[0])
	}
	var errs []error
	outs := map[string]json.RawMessage{}
	for i, cfg := range ps {
		var buf bytes.Buffer
		sub := *a
		sub.stdout = &buf
		if err := run(&sub, cfg); err != nil {
			errs = append(errs, fmt.Errorf("project %s: %w", cfg.Name, err))
		}
		if asJSON {
			outs[cfg.Name] = json.RawMessage("null")
			if b := bytes.TrimSpace(buf.Bytes()); json.Valid(b) {
				outs[cfg.Name] = b
			}
			continue
		}
		if i > 0 {
			fmt.Fprintln(a.stdout)
		}
		fmt.Fprintf(a.stdout, "== project %s (%s) ==\n", cfg.Name, cfg.Gateway.Team)
		a.stdout.Write(buf.Bytes())
	}
	if asJSON {
		if err := a.printJSON(outs); err != nil {
			return err
		}
	}
	return errors.Join(errs...)
}

// jsonFlag adds the common -json (also --json) flag.
func jsonFlag(fs *flag.FlagSet) *bool {
	return fs.Bool("json", false, "print the result as JSON for scripts")
}

// parse parses flags and positional arguments in any order and checks the
// number of positional arguments (nargs < 0: any number). -h prints the
// command's usage to stdout and returns flag.ErrHelp.
func (c *command) parse(a *app, fs *flag.FlagSet, args []string, nargs int) ([]string, error) {
	fs.SetOutput(io.Discard)
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				fs.SetOutput(a.stdout)
				fs.Usage()
				return nil, flag.ErrHelp
			}
			return nil, fmt.Errorf("%v (see secgate help %s)", err, c.Name)
		}
		args = fs.Args()
		if len(args) == 0 {
			break
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
	if nargs >= 0 && len(pos) != nargs {
		want := "no arguments"
		if nargs > 0 {
			want = templates.Count(nargs, "argument") + ": " + c.Args
		}
		return nil, fmt.Errorf("want %s, got %q (see secgate help %s)", want, pos, c.Name)
	}
	fs.SetOutput(a.stderr)
	return pos, nil
}

// printJSON writes v as indented JSON to stdout.
func (a *app) printJSON(v any) error {
	enc := json.NewEncoder(a.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// newLogger returns the logger of a command for a configured level.
func (a *app) newLogger(level string) *slog.Logger {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		l = slog.LevelInfo
	}
	return slog.New(slog.NewTextHandler(a.stderr, &slog.HandlerOptions{Level: l}))
}

// loadConfig loads and validates the configuration of one project at
// path, with a hint when the file does not exist.
func loadConfig(path string) (*Config, error) {
	cfg, err := LoadConfig(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w (create one with secgate init, or pass -config FILE)", err)
	}
	return cfg, err
}
