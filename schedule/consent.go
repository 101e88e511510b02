package schedule

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/secgate/secgate/cases"
	"github.com/secgate/secgate/store"
)

// The reporter's consent (reporter_consent). A plan that waits for it is
// stored with its timeline but no jobs: nothing of it goes out (no embargo
// notice, no pre-announcement, no announcement) until the reporter agrees
// (Consent, which the case workflow calls) or a lead forces a /disclose
// while it waits. The lead is reminded like an SLA deadline: before, and
// once missed, the last time the embargo notice can go out and keep the
// policy's least notice (T0 for a plan without embargo).

var _ cases.ConsentScheduler = (*Scheduler)(nil)

// decideConsent settles, for plan p of c that Disclose is making from old
// (nil for a first plan), whether it waits for the reporter: it sets p's
// consent fields and tl's, and returns what the audit detail adds.
func (s *Scheduler) decideConsent(ctx context.Context, tx *sql.Tx, cs Cases, c *cases.Case, pol Policy, old, p *plan, tl *Timeline,
	force, actor string, now time.Time) (string, error) {
	waited := old != nil && old.awaitingConsent()
	switch {
	case !pol.ReporterConsent:
		p.ConsentAsked, p.Consent = time.Time{}, ""
	case tl.Notified:
		// The distributors know a date already: the reporter hears
		// the new one, as with any re-plan.
		p.ConsentAsked = time.Time{}
	case waited && force != "":
		p.ConsentAsked, p.ConsentT0 = time.Time{}, tl.T0
		p.Consent = fmt.Sprintf("not given: forced by %s (%s)", actor, force)
		if err := cs.Audit(ctx, tx, c.ID, actor, "consent-forced",
			fmt.Sprintf("the reporter's consent to the disclosure of %s overridden: %s", tl.T0.Format(layoutUTC), force), ""); err != nil {
			return "", err
		}
	case old != nil && !waited && old.Consent != "" && old.ConsentT0.Equal(tl.T0):
		// Agreed to this very date: re-planning it does not ask again.
	default:
		p.ConsentAsked, p.ConsentT0, p.Consent, p.ConsentCode = now, tl.T0, "", ""
	}
	tl.AwaitingConsent, tl.Consent = p.awaitingConsent(), p.Consent
	switch {
	case tl.AwaitingConsent:
		return "; waiting for the reporter's consent", nil
	case p.Consent != "":
		return "; reporter's consent: " + p.Consent, nil
	}
	return "", nil
}

// ConsentPending implements cases.ConsentScheduler.
func (s *Scheduler) ConsentPending(ctx context.Context, tx *sql.Tx, c *cases.Case) (cases.PendingConsent, bool, error) {
	p, err := loadPlan(ctx, tx, c.ID)
	if err != nil || p == nil || !p.awaitingConsent() || !p.Published.IsZero() {
		return cases.PendingConsent{}, false, err
	}
	return cases.PendingConsent{T0: p.ConsentT0, Asked: p.ConsentAsked, CodeHash: p.ConsentCode}, true, nil
}

// AskConsent implements cases.ConsentScheduler.
func (s *Scheduler) AskConsent(ctx context.Context, tx *sql.Tx, c *cases.Case, codeHash string) error {
	p, err := loadPlan(ctx, tx, c.ID)
	if err != nil {
		return err
	}
	if p == nil || !p.awaitingConsent() {
		return fmt.Errorf("schedule: %w: no plan of %s waits for the reporter's consent", ErrNoPlan, c.Ref)
	}
	p.ConsentCode = codeHash
	return savePlan(ctx, tx, p, s.now())
}

// Consent implements cases.ConsentScheduler: the plan of c that waits for
// the reporter goes ahead as it would have at /disclose, in tx. When it
// no longer can (its date has passed, or is too near for the notice the
// policy asks), the consent is kept for that date and the text says to
// plan again.
func (s *Scheduler) Consent(ctx context.Context, tx *sql.Tx, c *cases.Case, how, actor string) (string, error) {
	cs, err := s.casesOrErr()
	if err != nil {
		return "", err
	}
	p, err := loadPlan(ctx, tx, c.ID)
	if err != nil {
		return "", err
	}
	if p == nil || !p.awaitingConsent() || !p.Published.IsZero() {
		return "", fmt.Errorf("schedule: %w: no plan of %s waits for the reporter's consent", ErrNoPlan, c.Ref)
	}
	pol, err := s.Policy(p.Policy)
	if err != nil {
		return "", err
	}
	now := s.now()
	p.ConsentAsked, p.Consent = time.Time{}, how
	if err := cs.Audit(ctx, tx, c.ID, actor, "consent", fmt.Sprintf("%s, to the disclosure of %s", how, p.T0.Format(layoutUTC)), ""); err != nil {
		return "", err
	}
	auds, err := s.audiences(ctx, tx, c, pol)
	if err != nil {
		return "", err
	}
	tl, perr := s.planAudiences(pol, auds, now, p.T0, p.Forced, PlanInfo{Received: c.Received, CVSSScore: c.CVSSScore, NoEmbargo: p.NoEmbargo})
	if perr != nil {
		if err := savePlan(ctx, tx, p, now); err != nil {
			return "", err
		}
		return fmt.Sprintf("The plan for %s cannot go ahead now: %v.\nPlan it again with /disclose: a plan for the same date keeps the reporter's consent.\n",
			p.T0.Format(layoutUTC), perr), nil
	}
	tl.Note, tl.Consent = c.Publishes() == cases.PublishNote, p.Consent
	p.NoticeAt, p.PreRelease, p.RetroFrom, p.RetroTo = tl.Notice, tl.PreRelease, tl.RetroFrom, tl.RetroTo
	if err := savePlan(ctx, tx, p, now); err != nil {
		return "", err
	}
	jobs, err := addTimeline(ctx, tx, c, p, tl, actor, now)
	if err != nil {
		return "", err
	}
	if tl.NoEmbargo {
		// No embargo notice to wait for: the public hears the date
		// now, where the policy says so.
		if err := s.preAnnounce(ctx, tx, cs, c, p, time.Time{}, now, false); err != nil {
			return "", err
		}
	}
	c.DiscloseAt = p.T0
	if err := s.runDueNow(ctx, tx, cs, c, jobs, now); err != nil {
		return "", err
	}
	s.Kick()
	return tl.Text(c.Ref, s.leadTZ(ctx, c), now), nil
}

// consentDue is when the reporter's consent to plan p is needed by: the
// last time its embargo notice can go out and keep the policy's least
// notice, or T0 for a plan without embargo.
func consentDue(pol Policy, p *plan) time.Time {
	if p.NoEmbargo {
		return p.T0
	}
	return pol.latestNotice(p.T0)
}

// latestNotice is the latest time an embargo notice for a disclosure at
// t0 keeps the policy's least notice (calendar and business days).
func (p Policy) latestNotice(t0 time.Time) time.Time {
	n := t0.Add(-p.MinNotice)
	for i := 0; i < 1000 && p.MinNoticeBusinessDays > 0 && p.BusinessDays(n, t0) < p.MinNoticeBusinessDays; i++ {
		// Back to the start of n's day, or the whole day before.
		day := time.Date(n.Year(), n.Month(), n.Day(), 0, 0, 0, 0, time.UTC)
		if day.Equal(n) {
			day = day.AddDate(0, 0, -1)
		}
		n = day
	}
	return n
}

// consentDeadline is the SLA deadline of c's plan that waits for the
// reporter, if one does.
func (s *Scheduler) consentDeadline(ctx context.Context, c *cases.Case, pol Policy) (name, what string, due time.Time, ok bool, err error) {
	p, err := loadPlan(ctx, s.db.Reader(), c.ID)
	if err != nil || p == nil || !p.awaitingConsent() || !p.Published.IsZero() {
		return "", "", time.Time{}, false, err
	}
	what = fmt.Sprintf("have the reporter agree to the disclosure planned for %s (or /disclose again with force: REASON)", p.T0.Format(layoutUTC))
	return fmt.Sprintf("consent-%d", p.Generation), what, consentDue(pol, p), true, nil
}

// StepConsent is the kind of the timeline step of the reporter's consent
// (reporter_consent): waiting while the plan waits for it, done once the
// reporter agreed or a lead went ahead without them.
const StepConsent = "consent"

// StepWaiting is the state of a step that waits for someone.
const StepWaiting = "waiting"

// consentSteps are the steps of c's timeline for the reporter's consent:
// each agreement or override the audit log records, and the wait of plan
// p (nil: none), due by the last time its embargo notice can go out.
func (s *Scheduler) consentSteps(ctx context.Context, c *cases.Case, p *plan, pol Policy, havePolicy bool) ([]Step, error) {
	rows, err := s.db.Reader().QueryContext(ctx, `SELECT at, action, detail FROM case_audit
		WHERE case_id = ? AND action IN ('consent', 'consent-forced') ORDER BY seq`, c.ID)
	if err != nil {
		return nil, fmt.Errorf("schedule: consent of %s: %w", c.Ref, err)
	}
	defer rows.Close()
	var steps []Step
	for rows.Next() {
		var at int64
		var action, detail string
		if err := rows.Scan(&at, &action, &detail); err != nil {
			return nil, fmt.Errorf("schedule: consent of %s: %w", c.Ref, err)
		}
		what := "reporter's consent"
		if action == "consent-forced" {
			what = "reporter's consent overridden by a lead"
		}
		steps = append(steps, Step{Kind: StepConsent, What: what, Audience: []string{"reporter"}, Due: store.Time(at),
			State: StepDone, Result: detail, Finished: store.Time(at)})
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("schedule: consent of %s: %w", c.Ref, err)
	}
	if p != nil && p.awaitingConsent() && p.Published.IsZero() {
		due := p.ConsentT0
		if havePolicy {
			due = consentDue(pol, p)
		}
		steps = append(steps, Step{Kind: StepConsent, What: "reporter's consent", Audience: []string{"reporter"}, Due: due,
			State: StepWaiting, Result: fmt.Sprintf("asked %s to agree to the disclosure of %s; nothing of the plan goes out before they do, or a lead forces",
				p.ConsentAsked.UTC().Format(layoutUTC), p.ConsentT0.UTC().Format(layoutUTC))})
	}
	return steps, nil
}
