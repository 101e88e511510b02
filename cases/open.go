package cases

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/secgate/secgate/crypto"
	"github.com/secgate/secgate/distlist"
	"github.com/secgate/secgate/store"
	"github.com/secgate/secgate/templates"
)

// ErrBadReport is returned by OpenCase for a report it cannot store.
var ErrBadReport = errors.New("bad report")

// OpenCase stores a new report as a case in state new inside tx: the report
// text, subject and attachments encrypted at rest, the reporter's address,
// key and disclosure terms, and the fix lead the rota gives. It writes the
// first audit event. Mail to the reporter and the team is the caller's.
// The reporter's address is kept as distlist.CanonicalAddress writes it (a
// quoted local part stays quoted); a From that is not one address is
// ErrBadReport.
func (w *Workflow) OpenCase(ctx context.Context, tx *sql.Tx, r Report) (*Case, error) {
	addr, err := distlist.CanonicalAddress(r.From)
	if err != nil {
		return nil, fmt.Errorf("cases: open: %w: reporter address %q: %v", ErrBadReport, short(r.From), err)
	}
	now := w.now()
	received := r.Received
	if received.IsZero() {
		received = now
	}
	c := &Case{
		State:        StateNew,
		ReporterAddr: addr,
		Terms:        r.Terms,
		Policy:       r.Policy,
		Received:     received.UTC().Truncate(time.Millisecond),
		Created:      now,
		Updated:      now,
	}
	if c.Policy == "" {
		c.Policy = w.cfg.Policy
	}
	keyNote := ""
	if r.Key != "" {
		k, err := crypto.ParsePublicKey([]byte(r.Key))
		switch {
		case err != nil:
			keyNote = "; reporter key not usable: " + err.Error()
		case !keyNames(k, c.ReporterAddr):
			keyNote = "; a key " + k.Fingerprint() + " came with the report but none of its user IDs is the reporter's address: not taken"
		default:
			c.ReporterKey = r.Key
			keyNote = "; reporter key " + k.Fingerprint()
		}
	}
	team := r.Team
	if team == nil {
		if team, err = w.dir.Team(ctx); err != nil {
			return nil, fmt.Errorf("cases: open: %w", err)
		}
	}
	// Numbered per prefix and year: the cases another prefix numbered in
	// this database (the project changed its prefix) take no number of
	// this one's.
	year, prefix := now.Year(), w.refs.Prefix()
	var last string
	var seq int
	if err := tx.QueryRowContext(ctx, openCaseReads, prefix, year).Scan(&last, &seq); err != nil {
		return nil, fmt.Errorf("cases: open: rota and reference: %w", err)
	}
	if lead, ok := nextOnRota(team, last, now); ok {
		c.Lead, c.RotaLead = lead.Fingerprint, lead.Fingerprint
		c.Team = []string{lead.Fingerprint}
	}
	c.Ref = w.refs.Format(year, seq)
	terms, err := w.seal(c.Terms)
	if err != nil {
		return nil, err
	}
	res, err := tx.ExecContext(ctx, `INSERT INTO cases (id, ref, prefix, year, seq, state, terms_enc, reporter_addr, reporter_key,
		lead, rota_lead, policy, received, created, updated) VALUES (`+nextCaseID+`, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		c.Ref, prefix, year, seq, string(c.State), terms, c.ReporterAddr, c.ReporterKey, c.Lead, c.RotaLead, c.Policy,
		store.Millis(c.Received), store.Millis(c.Created), store.Millis(c.Updated))
	if err != nil {
		return nil, fmt.Errorf("cases: open %s: %w", c.Ref, err)
	}
	if c.ID, err = res.LastInsertId(); err != nil {
		return nil, fmt.Errorf("cases: open %s: %w", c.Ref, err)
	}
	// The INSERT wrote every field a new case has; only its team is left.
	if err := w.addTeam(ctx, tx, c); err != nil {
		return nil, err
	}
	if _, err := w.insertMessage(ctx, tx, c.ID, Message{
		Kind: KindReport, Author: c.ReporterAddr, MessageID: r.MessageID, Subject: r.Subject, Text: r.Text,
		Attachments: r.Attachments, Encrypted: r.Encrypted, Received: c.Received, sealed: r.Sealed,
	}); err != nil {
		return nil, err
	}
	leadNote := "no fix lead available on the rota"
	if c.Lead != "" {
		leadNote = "fix lead " + c.Lead + " (rota)"
	}
	detail := fmt.Sprintf("case opened from a report by %s (%s%s); %s; policy %s",
		c.ReporterAddr, templates.Count(len(r.Attachments), "attachment"), encNote(r.Encrypted), leadNote, c.Policy) + keyNote
	if r.Archived != "" {
		at, ok, err := archivedAt(ctx, tx, r.Archived)
		if err != nil {
			return nil, err
		}
		if ok {
			detail += "; it names " + archivedNote(r.Archived, at)
		}
	}
	if err := w.auditFirst(ctx, tx, c.ID, ActorGateway, "open", detail, r.MessageID); err != nil {
		return nil, err
	}
	w.log.InfoContext(ctx, "case opened", "case", c.Ref, "lead", c.Lead)
	return c, nil
}

func encNote(enc bool) string {
	if enc {
		return ", encrypted"
	}
	return ", in clear"
}

// openCaseReads reads in one statement what a new case takes from the
// cases before it: the fix lead the rota gave last (empty when none) and the
// case's number (caseSeq, ?1 the prefix and ?2 the year).
const openCaseReads = `SELECT coalesce((SELECT rota_lead FROM cases WHERE rota_lead != '' ORDER BY id DESC LIMIT 1), ''), ` + caseSeq

// nextOnRota returns the member after last in rota order, skipping members
// who are away or whose key is not usable now. Members with Rota > 0 form the
// rota; when nobody has one, every member is on it.
func nextOnRota(team []distlist.Member, last string, now time.Time) (distlist.Member, bool) {
	var rota []distlist.Member
	for _, m := range team {
		if m.Rota > 0 {
			rota = append(rota, m)
		}
	}
	if len(rota) == 0 {
		rota = team
	}
	start := 0
	for i, m := range rota {
		if strings.EqualFold(m.Fingerprint, last) {
			start = i + 1
			break
		}
	}
	for i := range rota {
		m := rota[(start+i)%len(rota)]
		if available(m, now) {
			return m, true
		}
	}
	return distlist.Member{}, false
}

// available reports whether m can take work: not away, key usable.
func available(m distlist.Member, now time.Time) bool {
	return !m.Away && m.Key != nil && m.Key.Check(now) == nil
}

// AddMessage stores a follow-up (or any other message) of a case inside tx,
// encrypted at rest, and records it in the audit log.
func (w *Workflow) AddMessage(ctx context.Context, tx *sql.Tx, caseID int64, m Message) error {
	c, err := w.loadCase(ctx, tx, "id = ?", caseID)
	if err != nil {
		return err
	}
	if m.Kind == "" {
		m.Kind = KindFollowUp
	}
	if m.Received.IsZero() {
		m.Received = w.now()
	}
	if _, err := w.insertMessage(ctx, tx, c.ID, m); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `UPDATE cases SET updated = ? WHERE id = ?`, store.Millis(w.now()), c.ID); err != nil {
		return fmt.Errorf("cases: %s: %w", c.Ref, err)
	}
	actor := m.Author
	switch m.Kind {
	case KindFollowUp, KindReport:
		actor = "reporter:" + m.Author
		if m.Kind == KindFollowUp && !distlist.SameAddress(m.Author, c.ReporterAddr) {
			// Someone else on the case's thread (a stranger, a member of
			// another project): never recorded as the reporter.
			actor = ActorSender + m.Author
		}
	case KindDistributor:
		actor = "distributor:" + m.Author
	}
	if err := w.Audit(ctx, tx, c.ID, actor, "message", fmt.Sprintf("%s stored (%s%s)", m.Kind, templates.Count(len(m.Attachments), "attachment"), encNote(m.Encrypted)), m.MessageID); err != nil {
		return err
	}
	if m.Kind == KindFollowUp || m.Kind == KindDistributor {
		if err := w.refuseCommandLines(ctx, tx, c, actor, m); err != nil {
			return err
		}
	}
	return w.considerConsent(ctx, tx, c, m)
}
