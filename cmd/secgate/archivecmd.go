package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/secgate/secgate/cases"
	"github.com/secgate/secgate/crypto"
	"github.com/secgate/secgate/distlist"
	"github.com/secgate/secgate/internal/when"
	"github.com/secgate/secgate/store"
	"github.com/secgate/secgate/templates"
)

// archiveFile is the archive database of the database at path, in the
// same directory: secgate.db has secgate.archive.db. A backup FILE has
// its archive's copy named the same way.
func archiveFile(path string) string {
	base := strings.TrimSuffix(filepath.Base(path), ".db")
	return filepath.Join(filepath.Dir(path), base+".archive.db")
}

// archiveFlag is the -archive flag of the commands that read the archive
// database instead of the project's.
func archiveFlag(fs *flag.FlagSet) *bool {
	return fs.Bool("archive", false, "read the archive database (made by secgate archive) instead of the project's")
}

// archived returns cfg reading its archive database when on is set: the
// commands that read a database read the archive unchanged (it has the
// same schema).
func archived(cfg *Config, on bool) (*Config, error) {
	if !on {
		return cfg, nil
	}
	path := archiveFile(cfg.Gateway.Database)
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("-archive: no archive database %s yet (secgate archive -before DATE makes it)", path)
	}
	c := *cfg
	c.Gateway.Database, c.KeysDatabase = path, cfg.Gateway.Database
	return &c, nil
}

// parseBefore reads -before: a date (midnight UTC) or a time as /disclose
// takes it ("2026-01-01 00:00 UTC").
func parseBefore(s string) (time.Time, error) {
	if len(strings.Fields(s)) == 1 {
		s += " 00:00 UTC"
	}
	return when.Parse(s)
}

// archiveKillEnv makes `secgate archive` kill itself with SIGKILL at its
// N-th step (cases.Archiver's Step), or at the N-th step named STEP
// ("row:3", "copied:1", "moved:2"): the crash test's fault point. Unset,
// it costs nothing.
const archiveKillEnv = "SECGATE_ARCHIVE_KILL_AT"

func runArchive(ctx context.Context, a *app, c *command, args []string) error {
	fs := c.flagSet(a)
	sel := configFlag(fs)
	beforeFlag := fs.String("before", "", "archive the cases that ended and were last changed before `DATE` (YYYY-MM-DD, or \"YYYY-MM-DD HH:MM ZONE\")")
	dry := fs.Bool("dry-run", false, "list what would be archived and what is held back, move nothing")
	asJSON := jsonFlag(fs)
	if _, err := c.parse(a, fs, args, 0); err != nil {
		return err
	}
	if *beforeFlag == "" {
		return errors.New("-before DATE is required")
	}
	before, err := parseBefore(*beforeFlag)
	if err != nil {
		return fmt.Errorf("-before: %w", err)
	}
	cfg, err := sel.one()
	if err != nil {
		return err
	}
	v, err := openView(ctx, a, cfg, true)
	if err != nil {
		return err
	}
	defer v.Close()
	live, err := v.workflow()
	if err != nil {
		return err
	}
	// Nothing is copied out of a log that does not verify: the archive's
	// heads would vouch for what nobody can vouch for.
	if err := verifyForArchive(ctx, live, v, "the project's"); err != nil {
		return err
	}
	path := archiveFile(cfg.Gateway.Database)
	adb, err := openArchive(ctx, path)
	if err != nil {
		return err
	}
	defer adb.Close()
	av := &view{cfg: cfg, db: adb, key: v.key, dir: distlist.NewDirectory(adb, nil, nil)}
	arch, err := av.workflow()
	if err != nil {
		return err
	}
	if err := verifyForArchive(ctx, arch, av, "the archive's"); err != nil {
		return err
	}
	arc := &cases.Archiver{Live: live, Archive: arch, Step: killAt(a.getenv(archiveKillEnv))}
	cands, open, err := arc.Candidates(ctx, before)
	if err != nil {
		return err
	}
	res := archiveJSON{Archive: path, Before: before, Open: open, Cases: []archiveCaseJSON{}}
	for _, cd := range cands {
		cj := archiveCaseJSON{Case: cd.Ref, State: string(cd.State), LastChanged: cd.Closed, Action: "kept", Hold: cd.Hold}
		switch {
		case cd.Hold != "":
		case *dry:
			cj.Action = "would archive"
		default:
			r, err := arc.Move(ctx, cd.ID, before)
			if errors.Is(err, cases.ErrNotFound) {
				// Another run moved it since the list was read.
				r.Hold = "archived meanwhile by another run"
			} else if err != nil {
				return fmt.Errorf("archive %s: %w (run secgate archive again: it finishes what was cut short)", cd.Ref, err)
			}
			cj.Hold, cj.Copied, cj.Deleted = r.Hold, r.Rows, r.Moved
			if r.Hold == "" {
				cj.Action = "archived"
			}
		}
		if cj.Action == "kept" {
			res.Kept++
		} else {
			res.Archived++
		}
		if !*asJSON {
			printArchived(a, cj)
		}
		res.Cases = append(res.Cases, cj)
	}
	if *asJSON {
		return a.printJSON(res)
	}
	out := a.stdout
	if open > 0 {
		fmt.Fprintf(out, "%s last changed before %s %s not archived: open cases never are\n",
			templates.Count(open, "open case"), fmtTime(before), map[bool]string{true: "is", false: "are"}[open == 1])
	}
	verb := "archived"
	if *dry {
		verb = "would archive"
	}
	fmt.Fprintf(out, "%s %s into %s; %s kept (something pending)\n", verb, templates.Count(res.Archived, "case"), path, templates.Count(res.Kept, "case"))
	return nil
}

// archiveJSON is the result of `secgate archive -json`.
type archiveJSON struct {
	Archive  string            `json:"archive"` // the archive database
	Before   time.Time         `json:"before"`
	Archived int               `json:"archived"` // cases moved (or that would be, with -dry-run)
	Kept     int               `json:"kept"`     // ended cases held back by something pending
	Open     int               `json:"open"`     // open cases last changed before, never archived
	Cases    []archiveCaseJSON `json:"cases"`
}

type archiveCaseJSON struct {
	Case        string    `json:"case"`
	State       string    `json:"state"`
	LastChanged time.Time `json:"last_changed"`
	Action      string    `json:"action"`         // archived, would archive, kept
	Hold        string    `json:"hold,omitempty"` // why it was kept
	Copied      int       `json:"rows_copied"`
	Deleted     int       `json:"rows_deleted"`
}

func printArchived(a *app, c archiveCaseJSON) {
	switch c.Action {
	case "kept":
		fmt.Fprintf(a.stdout, "kept     %s (%s, last changed %s): %s\n", c.Case, c.State, fmtTime(c.LastChanged), c.Hold)
	case "archived":
		fmt.Fprintf(a.stdout, "archived %s (%s, last changed %s): %s copied, %s deleted\n", c.Case, c.State, fmtTime(c.LastChanged),
			templates.Count(c.Copied, "row"), templates.Count(c.Deleted, "row"))
	default:
		fmt.Fprintf(a.stdout, "would archive %s (%s, last changed %s)\n", c.Case, c.State, fmtTime(c.LastChanged))
	}
}

// verifyForArchive refuses to archive when the audit log of w does not
// verify.
func verifyForArchive(ctx context.Context, w *cases.Workflow, v *view, whose string) error {
	chk, err := w.VerifyAuditLog(ctx, v.key)
	if err != nil {
		return err
	}
	if err := chk.Err(); err != nil {
		return fmt.Errorf("%s audit log does not verify, nothing archived (see secgate audit verify): %w", whose, err)
	}
	return nil
}

// killAt returns a Step that kills the process at the step env names
// ("N" or "STEP:N"); nil when env names none.
func killAt(env string) func(string) error {
	name, count, ok := strings.Cut(env, ":")
	if !ok {
		name, count = "", env
	}
	n, err := strconv.Atoi(count)
	if err != nil || n < 1 {
		return nil
	}
	return func(step string) error {
		if name != "" && step != name {
			return nil
		}
		if n--; n == 0 {
			fmt.Fprintf(os.Stderr, "killed after step %s\n", step)
			syscall.Kill(os.Getpid(), syscall.SIGKILL)
			select {} // the signal arrives
		}
		return nil
	}
}

// noCase is the error for a reference w's database holds no case of: an
// archived case is named as one.
func noCase(ctx context.Context, w *cases.Workflow, ref string) error {
	ref = strings.ToUpper(ref)
	at, archived, err := w.Archived(ctx, nil, ref)
	if err != nil {
		return err
	}
	if archived {
		return fmt.Errorf("%s was archived on %s: secgate case show -archive %s", ref, fmtTime(at), ref)
	}
	return fmt.Errorf("no case %s (see secgate case list)", ref)
}

// teamVerifierOf is the key that checks the heads of v's log: the team
// key with those it succeeded as the project's database records them
// (cfg's), also when v is the archive, whose heads a key rotated out
// since may have signed.
func teamVerifierOf(ctx context.Context, a *app, cfg *Config, v *view) (*crypto.Key, error) {
	if v.cfg.Gateway.Database == cfg.Gateway.Database {
		return v.teamVerifier(ctx)
	}
	lv, err := openView(ctx, a, cfg, false)
	if err != nil {
		return nil, err
	}
	defer lv.Close()
	return lv.teamVerifier(ctx)
}

// openArchive opens the archive database at path, made whole under
// another name first when it does not exist yet: two runs at once, or a
// run killed while making it, never meet a schema half made.
func openArchive(ctx context.Context, path string) (*store.DB, error) {
	if !fileExists(path) {
		f, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".new-*")
		if err != nil {
			return nil, fmt.Errorf("archive database %s: %w", path, err)
		}
		tmp := f.Name()
		f.Close()
		db, err := store.Open(ctx, tmp)
		if err != nil {
			os.Remove(tmp)
			return nil, err
		}
		err = errors.Join(db.Close(), os.Chmod(tmp, 0o600))
		if err == nil {
			if err = os.Link(tmp, path); errors.Is(err, os.ErrExist) {
				err = nil // the other run made it
			}
		}
		for _, f := range []string{tmp, tmp + "-wal", tmp + "-shm"} {
			os.Remove(f)
		}
		if err != nil {
			return nil, fmt.Errorf("archive database %s: %w", path, err)
		}
	}
	return store.Open(ctx, path)
}
