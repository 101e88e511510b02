package schedule

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/secgate/secgate/cases"
	"github.com/secgate/secgate/store"
	"github.com/secgate/secgate/templates"
)

// DefaultNotePrefix is the prefix of security note IDs when the project
// sets none ([project] note_prefix): notes come from the Kata taxonomy,
// whose notes are KCSN.
const DefaultNotePrefix = "KCSN"

var notePrefixRE = regexp.MustCompile(`^[A-Z][A-Z0-9]{1,15}$`)

// notePrefix is the prefix of the security note IDs this gateway gives.
func (s *Scheduler) notePrefix() string {
	if s.project.NotePrefix != "" {
		return s.project.NotePrefix
	}
	return DefaultNotePrefix
}

// checkNotePrefix refuses a prefix that would not make an ID (and a file
// name) of the form PREFIX-YYYY-NNN.
func checkNotePrefix(p string) error {
	if p != "" && !notePrefixRE.MatchString(p) {
		return fmt.Errorf("schedule: note prefix %q: want 2 to 16 upper-case letters and digits, starting with a letter (KCSN)", p)
	}
	return nil
}

// noteID gives case caseID its security note ID inside tx: the next number
// of prefix in the year of now, PREFIX-YYYY-NNN. A case keeps the ID it
// was given.
func noteID(ctx context.Context, tx *sql.Tx, prefix string, caseID int64, now time.Time) (string, error) {
	var id string
	err := tx.QueryRowContext(ctx, `SELECT id FROM security_note WHERE case_id = ?`, caseID).Scan(&id)
	if err == nil {
		return id, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("schedule: note ID: %w", err)
	}
	year := now.UTC().Year()
	var seq int
	if err := tx.QueryRowContext(ctx, `SELECT coalesce(max(seq), 0) + 1 FROM security_note WHERE prefix = ? AND year = ?`,
		prefix, year).Scan(&seq); err != nil {
		return "", fmt.Errorf("schedule: note ID: %w", err)
	}
	id = fmt.Sprintf("%s-%04d-%03d", prefix, year, seq)
	if _, err := tx.ExecContext(ctx, `INSERT INTO security_note (id, prefix, year, seq, case_id, published) VALUES (?, ?, ?, ?, ?, ?)`,
		id, prefix, year, seq, caseID, store.Millis(now)); err != nil {
		return "", fmt.Errorf("schedule: note ID %s: %w", id, err)
	}
	return id, nil
}

// NoteID returns the ID of the security note published for a case (ok
// is false before), for the CLI.
func (s *Scheduler) NoteID(ctx context.Context, caseID int64) (id string, ok bool, err error) {
	err = s.db.Reader().QueryRowContext(ctx, `SELECT id FROM security_note WHERE case_id = ?`, caseID).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, nil
	}
	return id, err == nil, err
}

// publishNote is the announcement step of a case whose class publishes a
// security note: the note gets its ID, goes to every public list (signed,
// in clear unless a list says otherwise) and is written to the artifacts
// directory as ID.md. The case stays where it is (opinion): the lead
// closes it.
func (s *Scheduler) publishNote(ctx context.Context, tx *sql.Tx, cs Cases, j Job, c *cases.Case, p *plan, now time.Time) (state, result string, err error) {
	id, err := noteID(ctx, tx, s.notePrefix(), c.ID, now)
	if err != nil {
		return "", "", err
	}
	team, err := s.dir.Team(ctx)
	if err != nil {
		return "", "", err
	}
	d := s.data(c, team, p, now)
	d.Plan.T0 = now // the time it actually goes out
	d.Case.Embargoed = false
	d.Case.Note = id
	lists, err := s.toPublicLists(ctx, tx, cs, c, MailAnnouncement, noticeID(c, j), templates.SecurityNote, d)
	if err != nil {
		return "", "", err
	}
	if len(lists) == 0 {
		lists = []string{"(no public list)"}
	}
	p.Published = now
	result = fmt.Sprintf("security note %s sent to %s", id, strings.Join(lists, ", "))
	if s.cfg.ArtifactsDir != "" {
		files, err := s.writeNote(id, d)
		if len(files) > 0 {
			result += "; wrote " + strings.Join(files, ", ")
		}
		if err != nil {
			// As with an advisory, the files never hold the
			// publication back: the lead is told.
			s.log.Error("schedule: security note file", "case", c.Ref, "err", err)
			if aerr := cs.Alert(ctx, tx, c.ID, "Security note file not written",
				fmt.Sprintf("The security note %s of %s went out, but it could not be written to the artifacts directory:\n\n  %v\n", id, c.Ref, err)); aerr != nil {
				return "", "", aerr
			}
		}
	}
	return JobDone, result, cs.Audit(ctx, tx, c.ID, cases.ActorGateway, "security-note", result, "")
}

// writeNote writes the note rendered with d as ID.md into the artifacts
// directory.
func (s *Scheduler) writeNote(id string, d templates.Data) ([]string, error) {
	txt, err := s.tmpl.Render(templates.SecurityNote, d)
	if err != nil {
		return nil, fmt.Errorf("schedule: security note: %w", err)
	}
	paths, err := WriteArtifacts(s.cfg.ArtifactsDir, map[string][]byte{id + ".md": []byte(txt.Body)})
	var files []string
	for _, p := range paths {
		files = append(files, filepath.Base(p))
	}
	return files, err
}
