package cases

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/secgate/secgate/distlist"
	"github.com/secgate/secgate/templates"
)

// Everyone around a case is kept in step. Each applied command mail sends
// every member but its author one summary (team-summary, encrypted to
// each): what changed, who changed it with which key, the mail's comment
// and /reply texts, and the next step of the timeline. A step of the
// timeline that changes the case (the embargo notice out, the
// announcement) is told the same way: inside the command mail that caused
// it, as part of that mail's summary; on its own, to every member. The
// reporter hears when the report is confirmed and when it is published.

// Step is a step of a case's timeline that the scheduler carried out and
// that changed the case: the embargo notice went out, the advisory was
// announced.
type Step struct {
	What    string   // what happened, in a few words: "the embargo notice went out"
	Changes []string // what it changed, one line each
	// Next is the next step of the timeline, due at NextAt; "" when none
	// is left.
	Next   string
	NextAt time.Time
	// Published: the case was made public, and the reporter is told,
	// with AdvisoryLink (the advisory's address, "" when unknown).
	Published    bool
	AdvisoryLink string
}

// NextStepper is implemented by a Scheduler that can say what a case's
// timeline does next; the team's summaries name it.
type NextStepper interface {
	NextStep(ctx context.Context, tx *sql.Tx, caseID int64) (what string, at time.Time, ok bool, err error)
}

// sessionKey is the context key of the command mail being applied, so
// that a step the scheduler carries out inside its transaction is told
// with it.
type sessionKey struct{}

func withSession(ctx context.Context, s *session) context.Context {
	return context.WithValue(ctx, sessionKey{}, s)
}

// TellStep tells the team, inside tx, of step st of case caseID's
// timeline, and the reporter when st made the case public. A step carried
// out inside a command mail's transaction becomes part of that mail's
// summary; any other goes to every member in a summary of its own.
func (w *Workflow) TellStep(ctx context.Context, tx *sql.Tx, caseID int64, st Step) error {
	team, err := w.dir.Team(ctx)
	if err != nil {
		return fmt.Errorf("cases: tell step: %w", err)
	}
	c, err := w.loadCase(ctx, tx, "id = ?", caseID)
	if err != nil {
		return fmt.Errorf("cases: tell step: %w", err)
	}
	s, inMail := ctx.Value(sessionKey{}).(*session)
	inMail = inMail && s.tx == tx && s.c != nil && s.c.ID == caseID
	if inMail {
		s.steps = append(s.steps, st.Changes...)
	} else {
		d := w.data(c, team)
		d.Reason = st.What
		d.Answer.Done = st.Changes
		d.Plan.Next, d.Plan.NextAt = st.Next, st.NextAt
		if d.Ack.Silent, err = w.silent(ctx, tx, c.ID); err != nil {
			return err
		}
		var all []distlist.Recipient
		for _, m := range team {
			all = append(all, recipient(m))
		}
		notice := noticeID("team-note", fmt.Sprint(caseID), ActorGateway, st.What, fmt.Sprint(w.now().UnixMilli()))
		if err := w.summarize(ctx, tx, c.ID, d, all, notice, "", nil); err != nil {
			return err
		}
	}
	if !st.Published {
		return nil
	}
	g := &session{w: w, tx: tx, team: team, now: w.now(), actor: ActorGateway, c: c, link: st.AdvisoryLink}
	if err := g.toReporter(ctx, templates.ReporterPublished, "published", "", ""); err != nil {
		return err
	}
	if inMail {
		s.extra = append(s.extra, g.extra...)
	}
	return nil
}

// tellTeam sends every member but the author one summary of what the
// mail changed, with its comment and /reply texts and the next step of
// the timeline. A mail that changed nothing (/help, /log, /draft alone)
// sends none.
func (s *session) tellTeam(ctx context.Context) error {
	if s.c == nil {
		return nil
	}
	changes := s.changes()
	if len(changes) == 0 {
		return nil
	}
	d := s.w.data(s.c, s.team)
	d.Actor = person(s.member)
	d.Answer.Done = changes
	d.Message.Text, d.Answer.Replies = s.text, s.replies
	silent, err := s.w.silent(ctx, s.tx, s.c.ID)
	if err != nil {
		return err
	}
	d.Ack.Silent = silent
	if ns, ok := s.w.scheduler().(NextStepper); ok {
		what, at, ok, err := ns.NextStep(ctx, s.tx, s.c.ID)
		if err != nil {
			return err
		}
		if ok {
			d.Plan.Next, d.Plan.NextAt = what, at
		}
	}
	var others []distlist.Recipient
	for _, m := range s.team {
		if m.Fingerprint != s.member.Fingerprint {
			others = append(others, recipient(m))
		}
	}
	return s.w.summarize(ctx, s.tx, s.c.ID, d, others, s.notice("team-note", ""), s.mail.MessageID, s.references())
}

// summarize renders the team summary of d and queues it to each of to,
// encrypted to each; the members it cannot reach are named in the audit
// log.
func (w *Workflow) summarize(ctx context.Context, tx *sql.Tx, caseID int64, d templates.Data, to []distlist.Recipient, notice, inReplyTo string, refs []string) error {
	subj, body, err := w.render(templates.TeamSummary, d)
	if err != nil {
		return err
	}
	sk, err := w.enqueue(ctx, tx, outMail{kind: MailTeamNote, caseID: caseID, notice: notice,
		subject: subj, body: body, encrypt: true, to: to, inReplyTo: inReplyTo, references: refs, auto: true})
	if err != nil || len(sk) == 0 {
		return err
	}
	return w.Audit(ctx, tx, caseID, ActorGateway, "team-note", "not sent to "+skippedList(sk), inReplyTo)
}

// ImpactReviewer is implemented by a Scheduler whose policies may have
// the reporter review the impact description when a case is triaged
// (Kata: "the description is validated by the reporter").
type ImpactReviewer interface {
	ReviewsImpact(policy string) bool
}

// tellReporterOf queues what the reporter hears when the case moves to
// state to, beyond what setState already sends: that it was confirmed and
// work on a fix begins; at triage, where the policy says so, the impact
// description to review.
func (s *session) tellReporterOf(ctx context.Context, to State) {
	switch to {
	case StateConfirmed:
		s.after = append(s.after, func() error {
			return s.toReporter(ctx, templates.ReporterConfirmed, string(to), "", "")
		})
	case StateTriaged:
		if ir, ok := s.w.scheduler().(ImpactReviewer); ok && ir.ReviewsImpact(s.c.Policy) {
			s.after = append(s.after, func() error { return s.askImpactReview(ctx) })
		}
	}
}

// askImpactReview sends the reporter the impact description to review,
// encrypted to their key; it never goes in clear: without a key on file
// the fix lead is told that it was not sent.
func (s *session) askImpactReview(ctx context.Context) error {
	if _, enc, err := reporterRecipient(s.c); err != nil || !enc {
		msg := "the impact description was NOT sent to the reporter to review: no usable key of theirs is on file, and it never goes in clear"
		s.extra = append(s.extra, msg)
		if err := s.w.Audit(ctx, s.tx, s.c.ID, ActorGateway, "reporter-skipped", msg, s.mail.MessageID); err != nil {
			return internalErr(err)
		}
		return nil
	}
	s.extra = append(s.extra, "the reporter was sent the impact description to review, encrypted to their key")
	return s.toReporter(ctx, templates.ReporterReview, "review", "", "")
}

// clearCaseData is what mail in clear to the reporter (no key on file)
// may show of a case: what names no detail of it.
func clearCaseData(all templates.CaseData) templates.CaseData {
	return templates.CaseData{Ref: all.Ref, State: all.State, Policy: all.Policy, Credit: all.Credit,
		CreditConsent: all.CreditConsent, CreditAnswer: all.CreditAnswer, Lead: all.Lead, Reporter: all.Reporter, Received: all.Received, Embargoed: all.Embargoed}
}
