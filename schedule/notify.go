package schedule

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/secgate/secgate/cases"
	"github.com/secgate/secgate/distlist"
	"github.com/secgate/secgate/store"
)

var _ cases.ListNotifier = (*Scheduler)(nil)

// NotifyNow sends the embargo notice of c's planned disclosure now, inside
// tx, to every list of the case that may be told now (again, to a list
// that was told already: distributors added since get it, and the others a
// second copy). A list whose rules do not accept so long an embargo keeps
// its later notice.
func (s *Scheduler) NotifyNow(ctx context.Context, tx *sql.Tx, c *cases.Case, force, actor string) error {
	_, err := s.NotifyList(ctx, tx, c, "", force, actor)
	return err
}

// NotifyList is /notify LIST: it adds list to c's audiences and tells it
// now, inside tx, when its rules accept the embargo left, or else at the
// earliest time they do. With list "" it is /notify: every list of the
// case that may be told now is told now. force overrides the policy's
// limits (an embargo longer than its maximum, a list added with less
// than its minimum left), never a list's own max_embargo. It returns what
// happens to each list, for the command answer.
func (s *Scheduler) NotifyList(ctx context.Context, tx *sql.Tx, c *cases.Case, list, force, actor string) (string, error) {
	cs, err := s.casesOrErr()
	if err != nil {
		return "", err
	}
	p, pol, err := s.notifiablePlan(ctx, tx, c)
	if err != nil {
		return "", err
	}
	now := s.now()
	auds, err := s.audiences(ctx, tx, c, pol)
	if err != nil {
		return "", err
	}
	targets, added := auds, false
	if list != "" {
		l, err := s.dir.List(ctx, list)
		if errors.Is(err, distlist.ErrNotFound) {
			return "", fmt.Errorf("schedule: %w: no list %q", ErrState, list)
		}
		if err != nil {
			return "", err
		}
		if l.Kind != distlist.KindEmbargo {
			return "", fmt.Errorf("schedule: %w: list %q is a list of kind %s, not an embargo list", ErrState, list, l.Kind)
		}
		i := slices.IndexFunc(auds, func(a audience) bool { return a.List == list })
		if i < 0 {
			auds = append(auds, audience{List: list, Rules: l.Rules, Source: audienceNotify, AddedBy: actor})
			i, added = len(auds)-1, true
		}
		targets = auds[i : i+1]
	}
	// Who is told now, who later (a list's own limit, never forced), and
	// what the policy says of telling them now.
	var nowLists []audience
	var violations, notes []string
	for _, a := range targets {
		lp := pol.forList(a.Rules)
		v := pol.TooLong(now, p.T0)
		if added {
			v = lp.noticeViolations(now, p.T0) // a new list: the policy's minimum too
		}
		if at := a.earliest(p.T0); now.Before(at) {
			notes = append(notes, a.List+": "+strings.Join(listNotes(pol, lp, a, Timeline{T0: p.T0, Notice: lp.noticeTime(now, p.T0)}, now), "; "))
			continue
		}
		for _, x := range v {
			if s.byList(auds) {
				x = a.List + ": " + x
			}
			violations = append(violations, x)
		}
		nowLists = append(nowLists, a)
		notes = append(notes, a.List+": told now")
	}
	if len(violations) > 0 && force == "" {
		return "", &PolicyError{Policy: p.Policy, Violations: violations}
	}
	missing, keyProblems, err := s.readiness(ctx, c, pol, targets, now, p.T0)
	if err != nil {
		return "", err
	}
	if len(missing) > 0 {
		return "", &ReadinessError{Missing: missing}
	}
	if added && len(keyProblems) > 0 && force == "" {
		return "", &ReadinessError{Missing: keyProblems, Forceable: true}
	}
	if len(nowLists) == 0 && !added {
		return "", fmt.Errorf("schedule: %w: no list may be told now: %s", ErrPolicy, strings.Join(notes, "; "))
	}
	if added {
		if err := addAudience(ctx, tx, c.ID, list, actor, now); err != nil {
			return "", err
		}
		if err := s.addListJobs(ctx, tx, c, p, pol, auds[len(auds)-1], len(nowLists) == 0, now); err != nil {
			return "", err
		}
	}
	var jobs []*Job
	for _, a := range nowLists {
		if err := s.cancelListJobs(ctx, tx, c.ID, a.List, JobEmbargoNotice, "sent early by /notify", now); err != nil {
			return "", err
		}
		j := &Job{CaseID: c.ID, Kind: JobEmbargoNotice, Generation: p.Generation, Due: now, Detail: JobDetail{Actor: actor, Reason: "/notify", List: a.List}}
		if err := insertJob(ctx, tx, j, now); err != nil {
			return "", err
		}
		jobs = append(jobs, j)
	}
	detail := "embargo notice sent now"
	if list != "" {
		detail = "list " + list + ": " + strings.Join(notes, "; ")
		if added {
			detail = "added " + detail
		}
	} else if s.byList(auds) {
		detail += ": " + strings.Join(notes, "; ")
	}
	if len(violations) > 0 {
		detail += "; forced (" + force + "): " + strings.Join(violations, "; ")
	}
	if err := cs.Audit(ctx, tx, c.ID, actor, "notify", detail, ""); err != nil {
		return "", err
	}
	for _, j := range jobs {
		if _, _, err := s.runClaimed(ctx, tx, cs, j.ID, c); err != nil {
			return "", err
		}
	}
	s.Kick()
	if !s.byList(auds) {
		return "", nil
	}
	return "Embargo lists:\n  " + strings.Join(notes, "\n  ") + "\n", nil
}

// notifiablePlan returns c's plan and policy when an embargo notice may go
// out for it: a plan with an embargo, not published, not waiting for the
// reporter, its disclosure time ahead.
func (s *Scheduler) notifiablePlan(ctx context.Context, tx *sql.Tx, c *cases.Case) (*plan, Policy, error) {
	if err := checkPlannable(c); err != nil {
		return nil, Policy{}, err
	}
	p, err := loadPlan(ctx, tx, c.ID)
	if err != nil {
		return nil, Policy{}, err
	}
	if p == nil || !p.Published.IsZero() {
		return nil, Policy{}, fmt.Errorf("schedule: %w: plan it first with /disclose DATE TIME ZONE", ErrNoPlan)
	}
	if p.NoEmbargo {
		return nil, Policy{}, fmt.Errorf("schedule: %w: %s is planned without an embargo; /disclose again without no-embargo first", ErrState, c.Ref)
	}
	if p.awaitingConsent() {
		// /notify's force is about the embargo's length, never the
		// reporter's say: going ahead without them is a /disclose of its
		// own, logged as such.
		return nil, Policy{}, fmt.Errorf("schedule: %w: the plan of %s waits for the reporter's consent; to go ahead without it, /disclose %s force: REASON",
			ErrState, c.Ref, p.T0.UTC().Format("2006-01-02 15:04")+" UTC")
	}
	if now := s.now(); !p.T0.After(now) {
		return nil, Policy{}, fmt.Errorf("schedule: %w: the disclosure time %s has passed", ErrPast, p.T0.Format(layoutUTC))
	}
	pol, err := s.Policy(p.Policy)
	return p, pol, err
}

// addListJobs adds the notices of a list added to c's plan p: its embargo
// notice at the time its rules give, when it is not told now (later), and
// its pre-release notice.
func (s *Scheduler) addListJobs(ctx context.Context, tx *sql.Tx, c *cases.Case, p *plan, pol Policy, a audience, later bool, now time.Time) error {
	lp := pol.forList(a.Rules)
	due := now
	if later {
		due = maxTime(lp.noticeTime(now, p.T0), now)
		j := &Job{CaseID: c.ID, Kind: JobEmbargoNotice, Generation: p.Generation, Due: due, Detail: JobDetail{List: a.List, Actor: a.AddedBy}}
		if err := insertJob(ctx, tx, j, now); err != nil {
			return err
		}
	}
	if lp.PreReleaseNotice <= 0 {
		return nil
	}
	if pr := p.T0.Add(-lp.PreReleaseNotice); pr.After(now) && pr.After(due) {
		return insertJob(ctx, tx, &Job{CaseID: c.ID, Kind: JobPreReleaseNotice, Generation: p.Generation, Due: pr, Detail: JobDetail{List: a.List}}, now)
	}
	return nil
}

// cancelListJobs cancels the case's pending jobs of kind that tell list.
func (s *Scheduler) cancelListJobs(ctx context.Context, tx *sql.Tx, caseID int64, list, kind, why string, now time.Time) error {
	js, err := listJobs(ctx, tx, `WHERE case_id = ? AND state = 'pending' AND kind = ?`, caseID, kind)
	if err != nil {
		return err
	}
	for _, j := range js {
		if s.jobList(j) != list {
			continue
		}
		if _, err := tx.ExecContext(ctx, `UPDATE schedule_job SET state = 'cancelled', result = ?, finished = ? WHERE id = ? AND state = 'pending'`,
			why, store.Millis(now), j.ID); err != nil {
			return fmt.Errorf("schedule: cancel job %d: %w", j.ID, err)
		}
	}
	return nil
}
