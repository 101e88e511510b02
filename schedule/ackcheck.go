package schedule

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/secgate/secgate/cases"
	"github.com/secgate/secgate/crypto"
	"github.com/secgate/secgate/distlist"
	"github.com/secgate/secgate/store"
	"github.com/secgate/secgate/templates"
)

// AckStatus is one recipient's copy of a notice that asks to be
// acknowledged: sent and delivered as the outbox has them, acknowledged
// as Acknowledge recorded it.
type AckStatus struct {
	Kind         string // the notice's mail kind: embargo-notice, prerelease-notice
	Notice       string // how texts name it: "embargo notice", "pre-release notice"
	NoticeID     string
	List         string // the embargo list the notice went to
	Recipient    string
	State        string    // the outbox row's state
	Sent         time.Time // queued
	Delivered    time.Time // the SMTP 250, zero before
	Acknowledged time.Time // zero while silent
	AckMessageID string    // the acknowledging reply's Message-ID
	Reminded     time.Time // the reminder, zero if none was sent
	// Current: the notice still asks to be acknowledged: the latest of
	// its kind to its list in a plan that stands (not withdrawn, broken or
	// published, T0 ahead; a pre-release notice of the plan's date).
	Current bool
}

// Silent reports whether the recipient got the notice and has not
// acknowledged it while it still asks to be.
func (a AckStatus) Silent() bool {
	return a.Current && !a.Delivered.IsZero() && a.Acknowledged.IsZero()
}

// Acks returns the acknowledgement table of case caseID: one line per
// recipient and notice, the notices in the order they were sent.
func (s *Scheduler) Acks(ctx context.Context, caseID int64) ([]AckStatus, error) {
	return s.acks(ctx, s.db.Reader(), caseID, s.now())
}

// SilentLines names the recipients of case caseID who have not
// acknowledged a notice that still asks to be, one line each, read through
// tx: the team's summaries show them.
func (s *Scheduler) SilentLines(ctx context.Context, tx *sql.Tx, caseID int64) ([]string, error) {
	as, err := s.acks(ctx, tx, caseID, s.now())
	if err != nil {
		return nil, err
	}
	return silentLines(as), nil
}

func silentLines(as []AckStatus) []string {
	var out []string
	for _, a := range as {
		if a.Silent() {
			out = append(out, fmt.Sprintf("%s: %s, delivered %s", a.Recipient, a.Notice, a.Delivered.UTC().Format(layoutUTC)))
		}
	}
	return out
}

func (s *Scheduler) acks(ctx context.Context, q querier, caseID int64, now time.Time) ([]AckStatus, error) {
	notices, err := scanAckNotices(ctx, q, `WHERE case_id = ? ORDER BY created, rowid`, caseID)
	if err != nil || len(notices) == 0 {
		return nil, err
	}
	p, err := loadPlan(ctx, q, caseID)
	if err != nil {
		return nil, err
	}
	ids := make([]string, 0, len(notices))
	kind := map[string]string{}
	for _, n := range notices {
		ids = append(ids, n.NoticeID)
		kind[n.NoticeID] = n.Kind
	}
	copies, err := distlist.NoticeCopies(ctx, q, ids)
	if err != nil {
		return nil, err
	}
	list := map[string]string{} // notice -> the list it went to
	for _, c := range copies {
		list[c.NoticeID] = c.List
	}
	// The notice that still asks, by kind and list: each embargo list of
	// the case (its audiences) has notices of its own, told at its own
	// time, and a later list's notice does not end an earlier list's.
	type kindList struct{ kind, list string }
	current := map[kindList]string{}
	if p != nil && p.Published.IsZero() && p.Broken == "" && now.Before(p.T0) {
		for _, n := range notices {
			k := kindList{n.Kind, list[n.NoticeID]}
			if n.Kind != MailPreReleaseNotice || n.Generation == p.Generation {
				current[k] = n.NoticeID
			} else {
				delete(current, k)
			}
		}
	}
	type key struct{ notice, rcpt string }
	type reply struct {
		at    time.Time
		msgid string
	}
	acked := map[key]reply{}
	reminded := map[key]time.Time{}
	rows, err := q.QueryContext(ctx, `SELECT r.notice_id, r.recipient, r.at, r.message_id FROM ack_reply r
		JOIN ack_notice n ON n.notice_id = r.notice_id WHERE n.case_id = ?`, caseID)
	if err != nil {
		return nil, fmt.Errorf("schedule: acknowledgements of case %d: %w", caseID, err)
	}
	defer rows.Close()
	for rows.Next() {
		var k key
		var at int64
		var msgid string
		if err := rows.Scan(&k.notice, &k.rcpt, &at, &msgid); err != nil {
			return nil, fmt.Errorf("schedule: acknowledgements of case %d: %w", caseID, err)
		}
		acked[k] = reply{store.Time(at), msgid}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	nrows, err := q.QueryContext(ctx, `SELECT g.notice_id, g.recipient, g.sent FROM ack_nudge g
		JOIN ack_notice n ON n.notice_id = g.notice_id WHERE n.case_id = ? AND g.stage = 'reminder'`, caseID)
	if err != nil {
		return nil, fmt.Errorf("schedule: reminders of case %d: %w", caseID, err)
	}
	defer nrows.Close()
	for nrows.Next() {
		var k key
		var at int64
		if err := nrows.Scan(&k.notice, &k.rcpt, &at); err != nil {
			return nil, fmt.Errorf("schedule: reminders of case %d: %w", caseID, err)
		}
		reminded[k] = store.Time(at)
	}
	if err := nrows.Err(); err != nil {
		return nil, err
	}
	out := make([]AckStatus, 0, len(copies))
	for _, c := range copies {
		k := key{c.NoticeID, c.Recipient}
		a := AckStatus{Kind: kind[c.NoticeID], Notice: noticeName(kind[c.NoticeID]), NoticeID: c.NoticeID, List: c.List, Recipient: c.Recipient, State: c.State,
			Sent: c.Queued, Delivered: c.Delivered, Reminded: reminded[k], Current: current[kindList{kind[c.NoticeID], c.List}] == c.NoticeID}
		if r, ok := acked[k]; ok {
			a.Acknowledged, a.AckMessageID = r.at, r.msgid
		}
		out = append(out, a)
	}
	return out, nil
}

// ackDue are when the reminder of one silent recipient and the escalation
// of a notice are due under pol, zero when not at all: the reminder
// ack_reminder after delivery, the escalation ack_escalate after the
// notice was sent, at the latest ackEscalateBefore T0; neither at or after
// T0, and no escalation due before the notice went out (a notice sent
// within 24 hours of T0).
func ackDue(pol Policy, t0, sent, delivered time.Time) (remind, escalate time.Time) {
	if pol.AckReminder > 0 && !delivered.IsZero() {
		if r := delivered.Add(pol.AckReminder); r.Before(t0) {
			remind = r
		}
	}
	if pol.AckEscalate > 0 {
		e := sent.Add(pol.AckEscalate)
		if latest := t0.Add(-ackEscalateBefore); latest.Before(e) {
			e = latest
		}
		if e.After(sent) && e.Before(t0) {
			escalate = e
		}
	}
	return remind, escalate
}

// CheckAcks reminds each silent recipient of a delivered notice once, and
// tells the fix lead once per notice who is still silent, when the policy
// says (ackDue). Each is recorded in the transaction that queues its mail.
// It returns how many mails it queued.
func (s *Scheduler) CheckAcks(ctx context.Context) (int, error) {
	cs, err := s.casesOrErr()
	if err != nil {
		return 0, err
	}
	now := s.now()
	ids, err := s.ackCases(ctx, now)
	if err != nil {
		return 0, err
	}
	sent := 0
	for _, id := range ids {
		n, err := s.checkCaseAcks(ctx, cs, id, now)
		sent += n
		if err != nil {
			return sent, err
		}
	}
	if sent > 0 {
		s.kickOutbox()
	}
	return sent, nil
}

// ackCases are the cases with notices that may still ask to be
// acknowledged: a plan that stands, T0 ahead.
func (s *Scheduler) ackCases(ctx context.Context, now time.Time) ([]int64, error) {
	rows, err := s.db.Reader().QueryContext(ctx, `SELECT DISTINCT n.case_id FROM ack_notice n JOIN schedule_plan p ON p.case_id = n.case_id
		WHERE p.published = 0 AND p.broken = '' AND p.t0 > ?`, store.Millis(now))
	if err != nil {
		return nil, fmt.Errorf("schedule: acknowledgements due: %w", err)
	}
	defer rows.Close()
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("schedule: acknowledgements due: %w", err)
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

// SilentCounts counts, by the notice's kind (embargo-notice,
// prerelease-notice), the recipients who got a notice that still asks to be
// acknowledged and have not acknowledged it, over every case: the metrics
// show them.
func (s *Scheduler) SilentCounts(ctx context.Context) (map[string]int, error) {
	now := s.now()
	ids, err := s.ackCases(ctx, now)
	if err != nil {
		return nil, err
	}
	out := map[string]int{MailEmbargoNotice: 0, MailPreReleaseNotice: 0}
	for _, id := range ids {
		as, err := s.acks(ctx, s.db.Reader(), id, now)
		if err != nil {
			return nil, err
		}
		for _, a := range as {
			if a.Silent() {
				out[a.Kind]++
			}
		}
	}
	return out, nil
}

func (s *Scheduler) checkCaseAcks(ctx context.Context, cs Cases, caseID int64, now time.Time) (int, error) {
	as, err := s.acks(ctx, s.db.Reader(), caseID, now)
	if err != nil {
		return 0, err
	}
	p, err := loadPlan(ctx, s.db.Reader(), caseID)
	if err != nil || p == nil {
		return 0, err
	}
	pol, err := s.Policy(p.Policy)
	if err != nil {
		pol, _ = s.Policy("")
	}
	sent := 0
	escalated := map[string]bool{}
	for _, a := range as {
		if !a.Silent() {
			continue
		}
		remind, escalate := ackDue(pol, p.T0, a.Sent, a.Delivered)
		if !remind.IsZero() && !now.Before(remind) && a.Reminded.IsZero() {
			ok, err := s.nudge(ctx, cs, caseID, a, "reminder", remind, now)
			if err != nil {
				return sent, err
			}
			if ok {
				sent++
			}
		}
		if !escalate.IsZero() && !now.Before(escalate) && !escalated[a.NoticeID] {
			escalated[a.NoticeID] = true
			ok, err := s.nudge(ctx, cs, caseID, a, "escalation", escalate, now)
			if err != nil {
				return sent, err
			}
			if ok {
				sent++
			}
		}
	}
	return sent, nil
}

// nudge sends, in a transaction of its own, the reminder to a's recipient
// or the escalation of a's notice to the lead, unless it was sent before
// (ok is false then). The state is read again inside the transaction.
func (s *Scheduler) nudge(ctx context.Context, cs Cases, caseID int64, a AckStatus, stage string, due, now time.Time) (ok bool, err error) {
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		rcpt := a.Recipient
		if stage == "escalation" {
			rcpt = ""
		}
		res, err := tx.ExecContext(ctx, `INSERT INTO ack_nudge (notice_id, recipient, stage, due, sent) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT DO NOTHING`, a.NoticeID, rcpt, stage, store.Millis(due), store.Millis(now))
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil
		}
		c, err := cs.GetTx(ctx, tx, caseID)
		if err != nil {
			return err
		}
		p, err := loadPlan(ctx, tx, caseID)
		if err != nil {
			return err
		}
		as, err := s.acks(ctx, tx, caseID, now)
		if err != nil || p == nil {
			return err
		}
		team, err := s.dir.Team(ctx)
		if err != nil {
			return err
		}
		d := s.data(c, team, p, now)
		d.Ack.Notice = a.Notice
		if stage == "reminder" {
			for _, x := range as {
				if x.NoticeID == a.NoticeID && x.Recipient == a.Recipient && x.Silent() {
					ok, err = s.remind(ctx, tx, cs, c, d, x)
					return err
				}
			}
			return nil
		}
		for _, x := range as {
			if x.NoticeID == a.NoticeID && x.Silent() {
				d.Ack.Silent = append(d.Ack.Silent, silentLines([]AckStatus{x})...)
			}
		}
		if len(d.Ack.Silent) == 0 {
			return nil
		}
		if _, _, err := s.send(ctx, tx, cs, c, MailReminder, a.NoticeID+"-ack-escalation", templates.AckEscalation, d, "",
			leadRecipients(team, c), true, now); err != nil {
			return err
		}
		ok = true
		return cs.Audit(ctx, tx, caseID, cases.ActorGateway, "ack-escalation",
			fmt.Sprintf("the lead was told who has not acknowledged the %s: %s", a.Notice, strings.Join(d.Ack.Silent, "; ")), "")
	})
	if err != nil {
		return false, fmt.Errorf("schedule: acknowledgement %s of %s: %w", stage, a.NoticeID, err)
	}
	return ok, nil
}

// remind queues the reminder to a's recipient in the thread of their copy
// of the notice, encrypted to them and signed; a recipient no longer on
// the notice's list gets nothing.
func (s *Scheduler) remind(ctx context.Context, tx *sql.Tx, cs Cases, c *cases.Case, d templates.Data, a AckStatus) (bool, error) {
	copies, err := distlist.NoticeCopies(ctx, tx, []string{a.NoticeID})
	if err != nil {
		return false, err
	}
	var cp distlist.Copy
	for _, x := range copies {
		if x.Recipient == a.Recipient {
			cp = x
		}
	}
	l, err := s.dir.List(ctx, cp.List)
	if err != nil {
		s.log.Warn("schedule: acknowledgement reminder: list gone", "notice", a.NoticeID, "list", cp.List, "err", err)
		return false, nil
	}
	var to []distlist.Recipient
	for _, r := range l.Recipients {
		if distlist.SameAddress(r.Address, a.Recipient) {
			to = append(to, r)
		}
	}
	if len(to) == 0 {
		return false, nil // removed from the list since: not entitled to hear more
	}
	if err := tx.QueryRowContext(ctx, `SELECT code FROM ack_notice WHERE notice_id = ?`, a.NoticeID).Scan(&d.Ack.Code); err != nil {
		return false, err
	}
	d.Recipient = templates.Person{Name: to[0].Name, Address: to[0].Address}
	d.Ack.Delivered = a.Delivered
	txt, err := s.tmpl.Render(templates.AckReminder, d)
	if err != nil {
		return false, err
	}
	sk, err := s.out.Enqueue(ctx, tx, distlist.Mail{
		Kind: MailAckReminder, CaseID: c.ID, NoticeID: a.NoticeID + "-ack-reminder",
		Content: crypto.Content{
			Subject: templates.HeaderSafe(txt.Subject),
			From:    s.from,
			Entity:  entity(txt.Body, a.NoticeID+"-ack-reminder"),
		},
		Encrypt:      true,
		ValidThrough: d.Plan.T0,
		List:         cp.List,
		Recipients:   to,
		InReplyTo:    cp.MessageID,
		References:   []string{cp.MessageID},
		Auto:         true,
	})
	if err != nil {
		return false, err
	}
	if len(sk) > 0 {
		if err := s.alertSkipped(ctx, tx, cs, c, d, txt.Subject, sk); err != nil {
			return false, err
		}
		return false, nil
	}
	return true, cs.Audit(ctx, tx, c.ID, cases.ActorGateway, "ack-reminder",
		fmt.Sprintf("%s reminded to acknowledge the %s delivered %s", a.Recipient, a.Notice, a.Delivered.UTC().Format(layoutUTC)), "")
}
