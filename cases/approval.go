package cases

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/secgate/secgate/distlist"
	"github.com/secgate/secgate/store"
)

// The two-person rule ([cases] approvals = 2): a step that cannot be
// undone waits, stored encrypted, for a second member's signed
// /approve REF within the approval window; the author cannot approve
// their own step, and a member approves a step once. A member named in
// [cases] break_glass may take the step alone with /break-glass REASON in
// the same signed mail, and every member is told at once.

// Mail kinds of the two-person rule.
const (
	MailApproval = "approval" // to the team: a step waits for a second member, was approved, expired, or was taken alone
)

// irreversible says why c is a step the two-person rule holds ("" when it
// is not): s.c is the case as the mail's earlier commands left it.
func (s *session) irreversible(c *Command) string {
	switch c.Name {
	case "publish-now":
		return "publish now"
	case "disclose":
		switch {
		case c.Force != "":
			return "a plan forced against the policy"
		case c.NoEmbargo:
			return "a disclosure without embargo"
		case s.c != nil && !s.c.DiscloseAt.IsZero() && c.T0.Before(s.c.DiscloseAt):
			return "the disclosure moved earlier"
		}
	case "notify":
		if c.Force != "" {
			return "a notice forced against the policy"
		}
	case "list":
		if len(c.Args) > 0 && c.Args[0] == "approve" {
			return "a distributor approved onto a list"
		}
	case "close", "status":
		if c.State == StateInvalid || c.State == StateWontfix {
			return "the case closed as " + string(c.State)
		}
	}
	return ""
}

// gate decides whether c runs now. It returns true when c was held for a
// second member (and answers how to approve it); false when it runs: the
// rule is off, c is not irreversible, it is being approved, or its author
// broke the glass.
func (s *session) gate(ctx context.Context, c *Command) (bool, error) {
	why := s.irreversible(c)
	if s.w.cfg.Approvals < 2 || why == "" || s.approval != "" {
		return false, nil
	}
	if s.breakGlass != "" {
		if !slices.ContainsFunc(s.w.cfg.BreakGlass, func(a string) bool { return strings.EqualFold(a, s.member.Address) }) {
			return false, fmt.Errorf("%w: /break-glass is for the members [cases] break_glass names; %s needs a second member's /approve", ErrForbidden, why)
		}
		s.done = append(s.done, fmt.Sprintf("%s taken alone (break glass: %s)", why, s.breakGlass))
		line := c.Line
		s.after = append(s.after, func() error {
			return s.tellMembers(ctx, fmt.Sprintf("break-glass-%d", line), "Taken alone (break glass): "+why,
				fmt.Sprintf("%s <%s> took a step the two-person rule holds, alone, with the break-glass role:\n\n  %s\n\nReason: %s\nCase: %s\n\nIf this was not agreed, act now: the step is recorded in the audit log.\n",
					s.member.Name, s.member.Address, displayRaw(c), s.breakGlass, s.caseRefOr("none")))
		})
		return false, nil
	}
	ref, err := newApprovalRef()
	if err != nil {
		return false, internalErr(err)
	}
	enc, err := s.w.seal(c.Raw)
	if err != nil {
		return false, internalErr(err)
	}
	var caseID int64
	if s.c != nil {
		caseID = s.c.ID
	}
	expires := s.now.Add(s.w.cfg.ApprovalWindow)
	if _, err := s.tx.ExecContext(ctx, `INSERT INTO case_approval (ref, case_id, author, line_enc, what, message_id, created, expires)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, ref, caseID, s.actor, enc, c.Name+": "+why, s.mail.MessageID, store.Millis(s.now), store.Millis(expires)); err != nil {
		return false, internalErr(fmt.Errorf("record approval %s: %w", ref, err))
	}
	s.done = append(s.done, fmt.Sprintf("%s waits for a second member: /approve %s (until %s)", why, ref, expires.Format("2006-01-02 15:04 UTC")))
	line := c.Line
	s.after = append(s.after, func() error {
		return s.tellMembers(ctx, fmt.Sprintf("approval-%d", line), "A step waits for your approval: "+ref,
			fmt.Sprintf("%s <%s> asks for a step the two-person rule holds (%s):\n\n  %s\n\nCase: %s\n\nA second member approves it with a signed mail to the team address holding the line\n\n  /approve %s\n\nuntil %s; then it is dropped. Its author cannot approve it.\n",
				s.member.Name, s.member.Address, why, displayRaw(c), s.caseRefOr("none"), ref, expires.Format("2006-01-02 15:04 UTC")))
	})
	return true, nil
}

// approve runs /approve REF: the step the other member asked for, as
// theirs, in this mail's transaction.
func (s *session) approve(ctx context.Context, cmd *Command) error {
	ref := strings.ToUpper(cmd.Args[0])
	var (
		caseID                   int64
		author, state, msgID     string
		enc                      []byte
		created, expires, decide int64
	)
	err := s.tx.QueryRowContext(ctx, `SELECT case_id, author, line_enc, message_id, state, created, expires, decided FROM case_approval WHERE ref = ?`, ref).
		Scan(&caseID, &author, &enc, &msgID, &state, &created, &expires, &decide)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("no step waits for approval as %s", ref)
	}
	if err != nil {
		return internalErr(err)
	}
	switch {
	case state == "approved":
		return fmt.Errorf("%s was approved already", ref)
	case state == "expired" || !s.now.Before(store.Time(expires)):
		return fmt.Errorf("%s expired at %s; ask again", ref, store.Time(expires).Format("2006-01-02 15:04 UTC"))
	case strings.EqualFold(author, s.member.Fingerprint):
		return fmt.Errorf("%w: you asked for %s yourself; a second member must approve it", ErrForbidden, ref)
	}
	if s.c != nil && s.c.ID != caseID && caseID != 0 {
		return fmt.Errorf("%s is a step of another case", ref)
	}
	authorM, ok := memberByFpr(s.team, author)
	if !ok {
		return fmt.Errorf("the member who asked for %s is no longer on the team", ref)
	}
	line, err := s.w.open(enc)
	if err != nil {
		return internalErr(err)
	}
	parsed, err := s.w.parser.Parse(line)
	if err != nil || len(parsed.Commands) != 1 {
		return internalErr(fmt.Errorf("approval %s: stored line does not parse: %v", ref, err))
	}
	inner := &session{w: s.w, tx: s.tx, team: s.team, mail: s.mail, now: s.now, member: authorM, actor: authorM.Fingerprint,
		cmds: parsed.Commands, approval: ref + " by " + s.member.Name + " <" + s.member.Address + ">"}
	if caseID != 0 {
		c, err := s.w.loadCase(ctx, s.tx, "id = ?", caseID)
		if err != nil {
			return internalErr(err)
		}
		inner.c = c
	}
	inner.mail.MessageID = msgID // the answer goes in the thread of the step's own mail
	if err := inner.apply(ctx); err != nil {
		return err
	}
	if _, err := s.tx.ExecContext(ctx, `UPDATE case_approval SET state = 'approved', approver = ?, decided = ? WHERE ref = ? AND state = 'pending'`,
		s.member.Fingerprint, store.Millis(s.now), ref); err != nil {
		return internalErr(err)
	}
	s.done = append(s.done, fmt.Sprintf("approved %s, asked by %s: %s", ref, authorM.Name, short(line)))
	if inner.c != nil && s.c != nil && inner.c.ID == s.c.ID {
		// The step changed the case this mail holds: reload it, so that
		// saving this mail's case does not undo the step.
		c, err := s.w.loadCase(ctx, s.tx, "id = ?", inner.c.ID)
		if err != nil {
			return internalErr(err)
		}
		*s.c = *c
	}
	return nil
}

// ExpireApprovals drops the steps whose approval window closed by now and
// tells each author; it returns how many it dropped.
func (w *Workflow) ExpireApprovals(ctx context.Context) (int, error) {
	now := w.now()
	// The sweeper asks every minute: a read, and no write transaction,
	// while nothing is due.
	var due int
	if err := w.db.Reader().QueryRowContext(ctx, `SELECT count(*) FROM case_approval WHERE state = 'pending' AND expires <= ?`, store.Millis(now)).Scan(&due); err != nil {
		return 0, fmt.Errorf("cases: expire approvals: %w", err)
	}
	if due == 0 {
		return 0, nil
	}
	team, err := w.dir.Team(ctx)
	if err != nil {
		return 0, err
	}
	n := 0
	err = w.db.Tx(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT ref, case_id, author, what, expires FROM case_approval WHERE state = 'pending' AND expires <= ?`, store.Millis(now))
		if err != nil {
			return err
		}
		type due struct {
			ref, author, what string
			caseID, expires   int64
		}
		var ds []due
		for rows.Next() {
			var d due
			if err := rows.Scan(&d.ref, &d.caseID, &d.author, &d.what, &d.expires); err != nil {
				rows.Close()
				return err
			}
			ds = append(ds, d)
		}
		rows.Close()
		for _, d := range ds {
			if _, err := tx.ExecContext(ctx, `UPDATE case_approval SET state = 'expired', decided = ? WHERE ref = ?`, store.Millis(now), d.ref); err != nil {
				return err
			}
			logID := d.caseID
			if logID == 0 {
				logID = GatewayLog
			}
			if err := w.Audit(ctx, tx, logID, ActorGateway, "approval", fmt.Sprintf("%s (%s) expired without a second member's approval", d.ref, d.what), ""); err != nil {
				return err
			}
			if m, ok := memberByFpr(team, d.author); ok {
				if _, err := w.enqueue(ctx, tx, outMail{kind: MailApproval, caseID: d.caseID, notice: noticeID("approval-expired", d.ref),
					subject: "Not approved: " + d.ref, body: fmt.Sprintf("No second member approved %s (%s) by %s: it was dropped and did not run. Ask again if it is still needed.\n",
						d.ref, d.what, store.Time(d.expires).Format("2006-01-02 15:04 UTC")),
					encrypt: true, to: []distlist.Recipient{recipient(m)}, auto: true}); err != nil {
					return err
				}
			}
			n++
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("cases: expire approvals: %w", err)
	}
	if n > 0 {
		w.kick()
	}
	return n, nil
}

// tellMembers mails every member, encrypted to each: the two-person
// rule's requests and break-glass notices.
func (s *session) tellMembers(ctx context.Context, tag, subject, body string) error {
	var to []distlist.Recipient
	for _, m := range s.team {
		to = append(to, recipient(m))
	}
	var caseID int64
	if s.c != nil {
		caseID = s.c.ID
	}
	sk, err := s.w.enqueue(ctx, s.tx, outMail{kind: MailApproval, caseID: caseID, notice: s.notice("approval", tag),
		subject: subject, body: body, encrypt: true, to: to, auto: true})
	if err != nil {
		return internalErr(err)
	}
	if len(sk) > 0 {
		s.extra = append(s.extra, "not told (no usable key): "+skippedList(sk))
	}
	return nil
}

// caseRefOr is the case's reference, or none.
func (s *session) caseRefOr(none string) string {
	if s.c == nil {
		return none
	}
	return s.c.Ref
}

// newApprovalRef is a short random reference: AP- and six characters of
// an alphabet without look-alikes.
func newApprovalRef() (string, error) {
	const alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return "AP-" + string(b), nil
}

// approvalPattern is the form of an approval reference.
var approvalPattern = regexp.MustCompile(`^AP-[A-Z2-9]{6}$`)
