package cases

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/secgate/secgate/distlist"
	"github.com/secgate/secgate/store"
	"github.com/secgate/secgate/templates"
)

// MailLeak is the kind of the mail that tells the team of a leak.
const MailLeak = "leak"

// Leak is a leak reported or suspected on a case (/leak WHO: WHAT).
type Leak struct {
	At    time.Time
	Actor string // fingerprint of the member who recorded it
	Who   string
	What  string
}

type sealedLeak struct {
	Who  string `json:"who"`
	What string `json:"what"`
}

// leak records /leak WHO: WHAT on the case, encrypted at rest, and tells
// every member, encrypted to each, asking whether to /publish-now. The
// audit log (in clear) says only that a leak was recorded.
func (s *session) leak(ctx context.Context, cmd *Command) error {
	who, what, _ := strings.Cut(cmd.Rest, ":")
	l := sealedLeak{Who: strings.TrimSpace(who), What: strings.TrimSpace(what)}
	if err := s.w.RecordLeak(ctx, s.tx, s.c.ID, s.actor, l.Who, l.What, s.mail.MessageID); err != nil {
		return internalErr(err)
	}
	s.sealedDone("leak recorded (its text is stored encrypted); the team is asked whether to /publish-now",
		"leak recorded: %s: %s; every member is asked whether to /publish-now", short(l.Who), short(l.What))
	line := cmd.Line
	s.after = append(s.after, func() error {
		d := s.w.data(s.c, s.team)
		d.Actor = person(s.member)
		d.Leak = templates.LeakData{Who: l.Who, What: l.What}
		subj, body, err := s.w.render(templates.Leak, d)
		if err != nil {
			return internalErr(err)
		}
		var to []distlist.Recipient
		for _, m := range s.team {
			to = append(to, recipient(m))
		}
		sk, err := s.w.enqueue(ctx, s.tx, outMail{kind: MailLeak, caseID: s.c.ID, notice: s.notice("leak", fmt.Sprint(line)),
			subject: subj, body: body, encrypt: true, to: to, auto: true})
		if err != nil {
			return internalErr(err)
		}
		if len(sk) > 0 {
			s.extra = append(s.extra, "the leak was NOT told to: "+skippedList(sk))
		}
		return nil
	})
	return nil
}

// RecordLeak stores a leak on case caseID in tx, encrypted at rest; actor
// is the member who recorded it. It neither audits nor tells anyone (the
// /leak command does).
func (w *Workflow) RecordLeak(ctx context.Context, tx *sql.Tx, caseID int64, actor, who, what, msgID string) error {
	plain, err := json.Marshal(sealedLeak{Who: who, What: what})
	if err != nil {
		return err
	}
	sealed, err := w.atRest.EncryptAtRest(plain)
	if err != nil {
		return fmt.Errorf("cases: seal leak: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO case_leak (case_id, at, actor, sealed, message_id) VALUES (?, ?, ?, ?, ?)`,
		caseID, store.Millis(w.now()), actor, sealed, msgID); err != nil {
		return fmt.Errorf("cases: record leak on %d: %w", caseID, err)
	}
	return nil
}

// Leaks returns the leaks recorded on case caseID, oldest first, decrypted.
func (w *Workflow) Leaks(ctx context.Context, caseID int64) ([]Leak, error) {
	rows, err := w.db.Reader().QueryContext(ctx, `SELECT at, actor, sealed FROM case_leak WHERE case_id = ? ORDER BY id`, caseID)
	if err != nil {
		return nil, fmt.Errorf("cases: leaks of %d: %w", caseID, err)
	}
	defer rows.Close()
	var out []Leak
	for rows.Next() {
		var at int64
		var l Leak
		var sealed []byte
		if err := rows.Scan(&at, &l.Actor, &sealed); err != nil {
			return nil, fmt.Errorf("cases: leaks of %d: %w", caseID, err)
		}
		plain, err := w.atRest.DecryptAtRest(sealed)
		if err != nil {
			return nil, fmt.Errorf("cases: leak of %d: %w", caseID, err)
		}
		var sl sealedLeak
		if err := json.Unmarshal(plain, &sl); err != nil {
			return nil, fmt.Errorf("cases: leak of %d: %w", caseID, err)
		}
		l.At, l.Who, l.What = store.Time(at), sl.Who, sl.What
		out = append(out, l)
	}
	return out, rows.Err()
}

// LeakCount returns how many leaks are recorded on case caseID; it needs
// no key.
func (w *Workflow) LeakCount(ctx context.Context, caseID int64) (int, error) {
	var n int
	if err := w.db.Reader().QueryRowContext(ctx, `SELECT count(*) FROM case_leak WHERE case_id = ?`, caseID).Scan(&n); err != nil {
		return 0, fmt.Errorf("cases: leaks of %d: %w", caseID, err)
	}
	return n, nil
}
