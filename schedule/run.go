package schedule

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/secgate/secgate/cases"
	"github.com/secgate/secgate/store"
	"github.com/secgate/secgate/templates"
)

// Run executes due jobs, checks SLA deadlines and, once a PollInterval,
// the acknowledgements of notices (CheckAcks) until ctx is done. One
// loop: a timer set to the next due job (or SLA check, at most
// PollInterval away), woken early by Kick. Jobs that came due while the gateway was down run at once, in
// timeline order.
func (s *Scheduler) Run(ctx context.Context) error {
	if _, err := s.casesOrErr(); err != nil {
		return err
	}
	nextSLA, nextAck := s.now(), s.now()
	for {
		if _, err := s.RunDue(ctx); err != nil && ctx.Err() == nil {
			s.log.Error("schedule: running due jobs", "err", err)
		}
		now := s.now()
		if !now.Before(nextAck) {
			// At most once a PollInterval: a turn woken by a Kick
			// (every command) need not read every case's notices.
			if _, err := s.CheckAcks(ctx); err != nil && ctx.Err() == nil {
				s.log.Error("schedule: acknowledgements", "err", err)
			}
			nextAck = now.Add(s.cfg.PollInterval)
		}
		if !now.Before(nextSLA) {
			if _, err := s.CheckSLA(ctx); err != nil && ctx.Err() == nil {
				s.log.Error("schedule: SLA check", "err", err)
			}
			nextSLA = now.Add(s.cfg.SLAInterval)
		}
		// A job added by a transaction that commits after its Kick is
		// still found within PollInterval.
		wait := min(nextSLA.Sub(now), s.cfg.PollInterval)
		due, ok, err := nextDue(ctx, s.db.Reader())
		if err != nil && ctx.Err() == nil {
			s.log.Error("schedule: next job", "err", err)
			wait = min(wait, s.cfg.RetryDelay)
		}
		if ok && due.Sub(now) < wait {
			wait = max(due.Sub(now), 0)
		}
		t := s.clock.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C():
		case <-s.wake:
			t.Stop()
		}
	}
}

// RunDue runs every job that is due now, in timeline order, each in its
// own transaction, and returns how many ran (done or skipped).
func (s *Scheduler) RunDue(ctx context.Context) (int, error) {
	cs, err := s.casesOrErr()
	if err != nil {
		return 0, err
	}
	due, err := listJobs(ctx, s.db.Reader(), `WHERE state = 'pending' AND due <= ? ORDER BY due, seq, id`, store.Millis(s.now()))
	if err != nil {
		return 0, err
	}
	if s.before != nil && slices.ContainsFunc(due, func(j Job) bool { return noticeJob(j.Kind) }) {
		if err := s.before(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("schedule: before the notices", "err", err)
		}
	}
	ran := 0
	for _, j := range due {
		if ctx.Err() != nil {
			return ran, ctx.Err()
		}
		var state string
		err := s.db.Tx(ctx, func(tx *sql.Tx) (err error) {
			defer func() {
				if r := recover(); r != nil {
					err = fmt.Errorf("schedule: job %d panicked: %v", j.ID, r)
				}
			}()
			state, _, err = s.runClaimed(ctx, tx, cs, j.ID, nil)
			return err
		})
		if err != nil {
			s.log.Error("schedule: job failed", "job", j.ID, "case", j.CaseID, "kind", j.Kind, "err", err)
			s.failJob(ctx, cs, j, err)
			continue
		}
		if state != "" {
			ran++
		}
	}
	if ran > 0 {
		s.kickOutbox()
	}
	return ran, nil
}

// failJob records a failed attempt: the job is retried with a doubling
// delay, and after MaxAttempts it fails for good and the lead is told.
func (s *Scheduler) failJob(ctx context.Context, cs Cases, j Job, cause error) {
	now := s.now()
	attempts := j.Attempts + 1
	delay := s.cfg.RetryDelay << min(attempts-1, 16)
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		if attempts >= s.cfg.MaxAttempts {
			if _, err := tx.ExecContext(ctx, `UPDATE schedule_job SET state = 'failed', attempts = ?, result = ?, finished = ?
				WHERE id = ? AND state = 'pending'`, attempts, cause.Error(), store.Millis(now), j.ID); err != nil {
				return err
			}
			return cs.Alert(ctx, tx, j.CaseID, fmt.Sprintf("FAILED: %s", j.Kind),
				fmt.Sprintf("The scheduled %s (due %s) failed %s and was given up:\n\n  %v\n\nFix the cause and plan again with /disclose, /notify or /publish-now.",
					j.Kind, j.Due.Format(layoutUTC), templates.Count(attempts, "time"), cause))
		}
		_, err := tx.ExecContext(ctx, `UPDATE schedule_job SET attempts = ?, due = ?, result = ? WHERE id = ? AND state = 'pending'`,
			attempts, store.Millis(now.Add(delay)), "attempt failed: "+cause.Error(), j.ID)
		return err
	})
	if err != nil {
		s.log.Error("schedule: record job failure", "job", j.ID, "err", err)
	}
}

// runClaimed claims job id in tx and carries it out. c is the case as the
// caller sees it in tx, or nil to load it. state is "" when the job was no
// longer pending.
func (s *Scheduler) runClaimed(ctx context.Context, tx *sql.Tx, cs Cases, id int64, c *cases.Case) (state, result string, err error) {
	now := s.now()
	j, ok, err := claimJob(ctx, tx, id, now)
	if err != nil || !ok {
		return "", "", err
	}
	if c == nil {
		if c, err = cs.GetTx(ctx, tx, j.CaseID); err != nil {
			return "", "", fmt.Errorf("schedule: job %d: %w", j.ID, err)
		}
	}
	p, err := loadPlan(ctx, tx, j.CaseID)
	if err != nil {
		return "", "", err
	}
	switch {
	case p == nil:
		state, result = JobSkipped, "no plan"
	case (c.State == cases.StateWontfix || c.State == cases.StateInvalid ||
		c.State == cases.StateOpinion && c.Publishes() != cases.PublishNote) && j.Detail.Withdrawn == "":
		state, result = JobSkipped, fmt.Sprintf("the case is %s: no disclosure", c.State)
	case c.Publishes() == cases.PublishNothing && j.Detail.Withdrawn == "":
		state, result = JobSkipped, fmt.Sprintf("class %s publishes nothing: no disclosure", c.Class)
	case c.State == cases.StateClosed && j.Kind == JobRetrospective:
		state, result = JobSkipped, "the case is closed"
	case p.Generation != j.Generation:
		state, result = JobSkipped, fmt.Sprintf("stale: plan generation %d, job %d", p.Generation, j.Generation)
	default:
		state, result, err = s.execute(ctx, tx, cs, j, c, p, now)
		if err != nil {
			return "", "", fmt.Errorf("schedule: %s of %s: %w", j.Kind, c.Ref, err)
		}
		if err := savePlan(ctx, tx, p, now); err != nil {
			return "", "", err
		}
	}
	if state == JobSkipped {
		s.log.Warn("schedule: step skipped", "case", c.Ref, "kind", j.Kind, "job", j.ID, "why", result)
		if err := cs.Audit(ctx, tx, c.ID, cases.ActorGateway, j.Kind+"-skipped", result, ""); err != nil {
			return "", "", err
		}
	} else {
		s.log.Info("schedule: step done", "case", c.Ref, "kind", j.Kind, "job", j.ID, "result", result)
	}
	if err := finishJob(ctx, tx, j.ID, state, result, now); err != nil {
		return "", "", err
	}
	return state, result, nil
}

// setState moves the case along when the workflow allows it.
func (s *Scheduler) setState(ctx context.Context, tx *sql.Tx, cs Cases, c *cases.Case, to cases.State, detail string) error {
	ss, ok := cs.(StateSetter)
	if !ok || c.State == to || !cases.CanTransition(c.State, to) {
		return nil
	}
	if err := ss.SetState(ctx, tx, c.ID, to, cases.ActorGateway, detail); err != nil {
		return err
	}
	c.State = to
	return nil
}

// execute carries out one timeline step. It may update p (saved by the
// caller).
func (s *Scheduler) execute(ctx context.Context, tx *sql.Tx, cs Cases, j Job, c *cases.Case, p *plan, now time.Time) (state, result string, err error) {
	switch j.Kind {
	case JobEmbargoNotice, JobPreReleaseNotice:
		if !p.Published.IsZero() {
			return JobSkipped, "already published", nil
		}
		if !now.Before(p.T0) {
			return s.missed(ctx, tx, cs, j, c, p, now)
		}
		if state, result, ok, err := s.listGuard(ctx, tx, cs, j, c, p, now); err != nil || !ok {
			return state, result, err
		}
		name := "embargo-notice"
		if j.Kind == JobPreReleaseNotice {
			name = "prerelease-notice"
		}
		n, skipped, err := s.notifyDistributors(ctx, tx, cs, j, c, p, name, now)
		if err != nil {
			return "", "", err
		}
		if j.Kind == JobEmbargoNotice {
			if err := told(ctx, tx, c.ID, s.jobList(j), audiencePolicy, j.Detail.Actor, now); err != nil {
				return "", "", err
			}
			if p.Notified.IsZero() {
				p.Notified = now
				if err := s.preAnnounce(ctx, tx, cs, c, p, time.Time{}, now, false); err != nil {
					return "", "", err
				}
			}
			if err := s.setState(ctx, tx, cs, c, cases.StateFixCommitted, "embargo notice sent"); err != nil {
				return "", "", err
			}
		}
		result = fmt.Sprintf("sent to %s, %d skipped", templates.Count(n, "distributor"), skipped)
		if j.Detail.List != "" && j.Detail.List != s.cfg.EmbargoList {
			result = "list " + j.Detail.List + ": " + result
		}
		return JobDone, result, cs.Audit(ctx, tx, c.ID, cases.ActorGateway, j.Kind, result, "")

	case JobEmbargoChange:
		broken, withdrawn := p.Broken != "", j.Detail.Withdrawn != ""
		if !broken && !withdrawn && !now.Before(p.T0) {
			return JobSkipped, "disclosure time has passed", nil
		}
		name := templates.EmbargoChange
		switch {
		case withdrawn:
			name = templates.EmbargoWithdrawn
		case broken:
			name = templates.EmbargoBroken
		}
		n, skipped, err := s.notifyDistributors(ctx, tx, cs, j, c, p, name, now)
		if err != nil {
			return "", "", err
		}
		if name == templates.EmbargoChange {
			if err := s.preAnnounce(ctx, tx, cs, c, p, store.Time(j.Detail.Previous), now, false); err != nil {
				return "", "", err
			}
		}
		result = fmt.Sprintf("%s sent to %s, %d skipped", name, templates.Count(n, "distributor"), skipped)
		if j.Detail.List != "" && j.Detail.List != s.cfg.EmbargoList {
			result = "list " + j.Detail.List + ": " + result
		}
		return JobDone, result, cs.Audit(ctx, tx, c.ID, cases.ActorGateway, name, result, "")

	case JobAnnouncement:
		if !p.Published.IsZero() {
			return JobSkipped, "already published", nil
		}
		if c.Publishes() == cases.PublishNote {
			return s.publishNote(ctx, tx, cs, j, c, p, now)
		}
		lists, files, err := s.announce(ctx, tx, cs, j, c, p, now)
		if err != nil {
			return "", "", err
		}
		p.Published = now
		// Released: through fix-committed when the embargo was broken
		// before the notice moved the case there. Where the lead says
		// when the fix is released (Kata: all patches merged), the case
		// waits at fix-committed for /status fix-released.
		moves := []cases.State{cases.StateFixCommitted, cases.StateFixReleased}
		if pol, err := s.Policy(c.Policy); err == nil && pol.LeadReleases {
			moves = moves[:1]
		}
		for _, to := range moves {
			if err := s.setState(ctx, tx, cs, c, to, "announced"); err != nil {
				return "", "", err
			}
		}
		result = fmt.Sprintf("announced to %s", strings.Join(lists, ", "))
		if len(files) > 0 {
			result += "; wrote " + strings.Join(files, ", ")
		}
		return JobDone, result, cs.Audit(ctx, tx, c.ID, cases.ActorGateway, "announcement", result, "")

	case JobRetrospective:
		if j.Detail.Reason == retroClosing {
			// After a restart both reminders may come due at once: one is enough.
			var last int64
			err := tx.QueryRowContext(ctx, `SELECT coalesce(max(finished), 0) FROM schedule_job WHERE case_id = ? AND kind = ?
				AND generation = ? AND state = 'done' AND id != ?`, c.ID, JobRetrospective, j.Generation, j.ID).Scan(&last)
			if err != nil {
				return "", "", fmt.Errorf("schedule: retrospective of %s: %w", c.Ref, err)
			}
			if last != 0 && now.Sub(store.Time(last)) < Day {
				return JobSkipped, "the lead was reminded " + store.Time(last).UTC().Format(layoutUTC), nil
			}
		}
		if err := s.remindLead(ctx, tx, cs, j, c, p, now); err != nil {
			return "", "", err
		}
		return JobDone, "retrospective reminder sent", cs.Audit(ctx, tx, c.ID, cases.ActorGateway, "retrospective-reminder", j.Detail.Reason, "")
	}
	return JobSkipped, "unknown job kind " + j.Kind, nil
}

// missed skips notice job j, run only after the disclosure time (the
// gateway was not running when it was due, or its clock jumped), and tells
// the lead: an embargoed notice is never sent after the announcement, so the
// distributors never got it.
func (s *Scheduler) missed(ctx context.Context, tx *sql.Tx, cs Cases, j Job, c *cases.Case, p *plan, now time.Time) (string, string, error) {
	what := "embargo notice"
	if j.Kind == JobPreReleaseNotice {
		what = "pre-release notice"
	}
	why := fmt.Sprintf("disclosure time %s has passed: an embargoed notice is never sent after the announcement", p.T0.Format(layoutUTC))
	text := fmt.Sprintf("The %s of %s was due at %s and was NOT sent: the gateway ran it only at %s,\n"+
		"after the disclosure time %s (it was not running when the notice was due, or its clock jumped).\n\n"+
		"An embargoed notice is never sent after the announcement. The distributors of the embargo\n"+
		"list did not get it from the gateway; tell them yourselves if they must know.\n",
		what, c.Ref, j.Due.UTC().Format(layoutUTC), now.UTC().Format(layoutUTC), p.T0.Format(layoutUTC))
	if err := cs.Alert(ctx, tx, c.ID, "MISSED: "+what+" not sent", text); err != nil {
		return "", "", err
	}
	return JobSkipped, why, nil
}
