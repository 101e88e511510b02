package schedule

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/secgate/secgate/cases"
	"github.com/secgate/secgate/distlist"
	"github.com/secgate/secgate/internal/clock"
	"github.com/secgate/secgate/store"
	"github.com/secgate/secgate/templates"
)

// Directory is the part of distlist.Directory the scheduler uses.
type Directory interface {
	Team(ctx context.Context) ([]distlist.Member, error)
	List(ctx context.Context, name string) (*distlist.List, error)
}

// Outbox is the part of distlist.Outbox the scheduler uses. If it also has
// a Kick method, the scheduler calls it after committing mail.
type Outbox interface {
	Enqueue(ctx context.Context, tx *sql.Tx, m distlist.Mail) ([]distlist.Skipped, error)
	// Withdraw ends the case's rows of kinds that have not gone out yet.
	Withdraw(ctx context.Context, tx *sql.Tx, caseID int64, kinds []string, reason string) (int64, error)
	// Deadline brings the disclosure time of those rows forward to t0.
	Deadline(ctx context.Context, tx *sql.Tx, caseID int64, kinds []string, t0 time.Time) (int64, error)
}

// Cases is the part of cases.Workflow the scheduler uses.
type Cases interface {
	GetTx(ctx context.Context, tx *sql.Tx, id int64) (*cases.Case, error)
	List(ctx context.Context, opts cases.ListOptions) ([]*cases.Case, error)
	Audit(ctx context.Context, tx *sql.Tx, caseID int64, actor, action, detail, sourceMsgID string) error
	Alert(ctx context.Context, tx *sql.Tx, caseID int64, subject, text string) error
}

// StateSetter is implemented by a Cases that lets the scheduler move a case
// along when a timeline step happens: fix-committed once the embargo notice
// is out, fix-released once the announcement is. Without it the scheduler
// only records the steps in the audit log.
type StateSetter interface {
	SetState(ctx context.Context, tx *sql.Tx, caseID int64, to cases.State, actor, detail string) error
}

// PatchReader is implemented by a Cases that keeps patch files (/patch
// with an attachment): the embargo and pre-release notices carry them.
type PatchReader interface {
	PatchFiles(ctx context.Context, tx *sql.Tx, c *cases.Case) ([]cases.Attachment, error)
}

// Options builds a Scheduler.
type Options struct {
	DB          *store.DB
	Directory   Directory
	Outbox      Outbox
	Cases       Cases // may be set later with SetCases (the workflow is built with the scheduler)
	Templates   *templates.Set
	Project     templates.Project
	TeamAddress string // From of every mail
	Clock       clock.Clock
	Logger      *slog.Logger
	Config      Config
	// BeforeNotices, when set, runs before due notices to the
	// distributors (embargo, change and pre-release notices) are sent,
	// outside any transaction: the gateway refreshes their keys there.
	// Its error is logged; the notices go all the same.
	BeforeNotices func(context.Context) error
}

// Scheduler plans disclosures and runs their timelines. It implements
// cases.Scheduler.
type Scheduler struct {
	db       *store.DB
	dir      Directory
	out      Outbox
	tmpl     *templates.Set
	project  templates.Project
	from     string
	clock    clock.Clock
	log      *slog.Logger
	cfg      Config
	policies map[string]Policy
	wake     chan struct{}
	before   func(context.Context) error

	mu    sync.Mutex
	cases Cases
}

var (
	_ cases.Scheduler = (*Scheduler)(nil)
	_ PatchReader     = (*cases.Workflow)(nil)
)

// New returns a Scheduler.
func New(o Options) (*Scheduler, error) {
	if o.DB == nil || o.Directory == nil || o.Outbox == nil || o.Templates == nil {
		return nil, errors.New("schedule: DB, Directory, Outbox and Templates are required")
	}
	if o.TeamAddress == "" {
		return nil, errors.New("schedule: TeamAddress is required")
	}
	if err := checkNotePrefix(o.Project.NotePrefix); err != nil {
		return nil, err
	}
	cfg := o.Config.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	ps, err := cfg.Resolve()
	if err != nil {
		return nil, err
	}
	s := &Scheduler{db: o.DB, dir: o.Directory, out: o.Outbox, tmpl: o.Templates, project: o.Project,
		from: o.TeamAddress, clock: o.Clock, log: o.Logger, cfg: cfg, policies: ps,
		wake: make(chan struct{}, 1), cases: o.Cases, before: o.BeforeNotices}
	if s.clock == nil {
		s.clock = clock.Real{}
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.project.TeamAddress == "" {
		s.project.TeamAddress = o.TeamAddress
	}
	return s, nil
}

// SetCases injects the case workflow.
func (s *Scheduler) SetCases(c Cases) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cases = c
}

func (s *Scheduler) casesOrErr() (Cases, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cases == nil {
		return nil, errors.New("schedule: no case workflow (call SetCases)")
	}
	return s.cases, nil
}

// Policy returns the named policy ("" is the configured default).
func (s *Scheduler) Policy(name string) (Policy, error) {
	if name == "" {
		name = s.cfg.Policy
	}
	p, ok := s.policies[name]
	if !ok {
		return Policy{}, fmt.Errorf("schedule: %w %q", ErrUnknownPolicy, name)
	}
	return p, nil
}

// cancelPlan cancels the case's pending jobs and withdraws its mail of
// kinds still waiting in the outbox: a notice of a plan that changed or
// ended must not go out late (a crash, a slow server) with what it said.
// It returns how many jobs it cancelled.
func (s *Scheduler) cancelPlan(ctx context.Context, tx *sql.Tx, caseID int64, why string, now time.Time, kinds ...string) (int64, error) {
	n, err := cancelPending(ctx, tx, caseID, why, now)
	if err != nil {
		return 0, err
	}
	if _, err := s.out.Withdraw(ctx, tx, caseID, kinds, why); err != nil {
		return 0, fmt.Errorf("schedule: %w", err)
	}
	return n, nil
}

// Deadlines are when the named policy asks a report received at received
// to be evaluated and its fix done; zero for a deadline the policy does
// not set (or an unknown policy, or no reception time).
func (s *Scheduler) Deadlines(policy string, received time.Time) (evaluateBy, fixBy time.Time) {
	pol, err := s.Policy(policy)
	if err != nil || received.IsZero() {
		return time.Time{}, time.Time{}
	}
	if pol.EvaluationDeadline > 0 {
		evaluateBy = received.Add(pol.EvaluationDeadline)
	}
	if pol.FixDeadline > 0 {
		fixBy = received.Add(pol.FixDeadline)
	}
	return evaluateBy, fixBy
}

// Kick wakes the job loop; call it after committing a transaction in which
// Disclose, NotifyNow or PublishNow ran.
func (s *Scheduler) Kick() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

func (s *Scheduler) kickOutbox() {
	if k, ok := s.out.(interface{ Kick() }); ok {
		k.Kick()
	}
}

func (s *Scheduler) now() time.Time { return s.clock.Now().UTC().Truncate(time.Millisecond) }

// plannable are the states from which a disclosure may be planned.
var plannable = map[cases.State]bool{
	cases.StateConfirmed: true, cases.StateTriaged: true, cases.StateCVERequested: true, cases.StateFixCommitted: true,
}

func checkPlannable(c *cases.Case) error {
	switch c.Publishes() {
	case cases.PublishNothing:
		r, _ := cases.ClassRuleOf(c.Class)
		return fmt.Errorf("schedule: %w: class %s (%s) publishes nothing: end the case with /close %s", ErrState, r.Class, r.Meaning, r.End)
	case cases.PublishNote:
		// Kata: a case waits for its security note in opinion.
		if c.State != cases.StateOpinion {
			return fmt.Errorf("schedule: %w: %s is %s; class %s publishes a security note, planned while the case waits for it in opinion: /status opinion first (the reporter is told)",
				ErrState, c.Ref, c.State, c.Class)
		}
		return nil
	}
	if !plannable[c.State] {
		return fmt.Errorf("schedule: %w: %s is %s; a disclosure needs a confirmed case (confirmed, triaged, cve-requested or fix-committed)",
			ErrState, c.Ref, c.State)
	}
	return nil
}

// readiness checks what the embargo notices need: an impact description,
// affected and fixed versions, and for each list of auds (none: no
// embargo) what listReadiness checks. keyProblems are forceable, missing
// is not. Each list's problems name it when the plan is shown by list.
func (s *Scheduler) readiness(ctx context.Context, c *cases.Case, pol Policy, auds []audience, now, t0 time.Time) (missing, keyProblems []string, err error) {
	if c.Impact == "" {
		missing = append(missing, "no impact description (/impact)")
	}
	if c.Affected == "" {
		missing = append(missing, "affected versions not set (/affected)")
	}
	if c.Fixed == "" && c.Publishes() != cases.PublishNote {
		missing = append(missing, "fixed versions not set (/fixed)") // a note may have no fix (B2)
	}
	if len(auds) == 0 {
		return missing, nil, nil // no distributor is sent anything
	}
	if pol.RequireCVE && c.CVE == "" {
		missing = append(missing, fmt.Sprintf("no CVE ID (/cve): the %s policy tells the distributors only of a vulnerability that has one", pol.Name))
	}
	byList := s.byList(auds)
	for _, a := range auds {
		m, k, err := s.listReadiness(ctx, c, pol, a, now, t0)
		if err != nil {
			return nil, nil, err
		}
		if byList {
			for i := range m {
				m[i] = a.List + ": " + m[i]
			}
			for i := range k {
				k[i] = a.List + ": " + k[i]
			}
		}
		missing, keyProblems = append(missing, m...), append(keyProblems, k...)
	}
	return missing, keyProblems, nil
}

// Disclose plans (or re-plans) the public disclosure of c at t0 inside tx.
// force, when not empty, is the reason to override the policy (and key
// problems of distributors); it is recorded in the audit log. It returns
// the plan as text for the command answer. A step already due (the embargo
// notice, or the change notice of a re-plan) is carried out in tx.
func (s *Scheduler) Disclose(ctx context.Context, tx *sql.Tx, c *cases.Case, t0 time.Time, o cases.DiscloseOptions, actor string) (string, error) {
	force := o.Force
	cs, err := s.casesOrErr()
	if err != nil {
		return "", err
	}
	if err := checkPlannable(c); err != nil {
		return "", err
	}
	pol, err := s.Policy(c.Policy)
	if err != nil {
		return "", err
	}
	note := c.Publishes() == cases.PublishNote
	if note {
		o.NoEmbargo = true // a security note has no embargo notice
	}
	now := s.now()
	old, err := loadPlan(ctx, tx, c.ID)
	if err != nil {
		return "", err
	}
	if old != nil && !old.Published.IsZero() {
		return "", fmt.Errorf("schedule: %w: %s was already published on %s", ErrState, c.Ref, old.Published.Format(layoutUTC))
	}
	auds, err := s.audiences(ctx, tx, c, pol)
	if err != nil {
		return "", err
	}
	tl, err := s.planAudiences(pol, auds, now, t0, force, PlanInfo{Received: c.Received, CVSSScore: c.CVSSScore, NoEmbargo: o.NoEmbargo})
	if err != nil {
		return "", err
	}
	tl.Note = note
	if tl.NoEmbargo {
		auds = nil
	}
	missing, keyProblems, err := s.readiness(ctx, c, pol, auds, now, tl.T0)
	if err != nil {
		return "", err
	}
	if len(missing) > 0 {
		return "", &ReadinessError{Missing: append(missing, keyProblems...)}
	}
	if len(keyProblems) > 0 {
		if tl.Forced == "" {
			return "", &ReadinessError{Missing: keyProblems, Forceable: true}
		}
		for _, k := range keyProblems {
			tl.Warnings = append(tl.Warnings, "forced despite: "+k)
		}
	}

	gen, err := nextGeneration(ctx, tx, c.ID)
	if err != nil {
		return "", err
	}
	p := &plan{CaseID: c.ID, Policy: pol.Name, Generation: gen}
	if old != nil {
		*p = *old
		p.Generation = old.Generation + 1
		p.PreviousT0 = old.T0
		// The pre-release notice of the old date must not go out: the
		// new plan has its own. An embargo notice still waiting goes out
		// (the change notice follows it), but never after the new date.
		if _, err := s.cancelPlan(ctx, tx, c.ID, fmt.Sprintf("re-planned by %s", actor), now, MailPreReleaseNotice); err != nil {
			return "", err
		}
		if _, err := s.out.Deadline(ctx, tx, c.ID, []string{MailEmbargoNotice}, t0); err != nil {
			return "", fmt.Errorf("schedule: %w", err)
		}
	}
	p.Policy, p.T0, p.NoticeAt, p.PreRelease, p.RetroFrom, p.RetroTo, p.Forced, p.NoEmbargo =
		pol.Name, tl.T0, tl.Notice, tl.PreRelease, tl.RetroFrom, tl.RetroTo, tl.Forced, tl.NoEmbargo
	consentNote, err := s.decideConsent(ctx, tx, cs, c, pol, old, p, &tl, force, actor, now)
	if err != nil {
		return "", err
	}
	if err := savePlan(ctx, tx, p, now); err != nil {
		return "", err
	}
	var jobs []*Job
	if !tl.AwaitingConsent {
		if jobs, err = addTimeline(ctx, tx, c, p, tl, actor, now); err != nil {
			return "", err
		}
	}
	detail := fmt.Sprintf("T0 %s, policy %s, embargo notice %s", tl.T0.Format(layoutUTC), pol.Name, tl.Notice.Format(layoutUTC))
	if tl.NoEmbargo {
		detail = fmt.Sprintf("T0 %s, policy %s, no embargo", tl.T0.Format(layoutUTC), pol.Name)
	}
	if old != nil {
		detail = fmt.Sprintf("re-planned from %s: %s", old.T0.Format(layoutUTC), detail)
	}
	if tl.Forced != "" {
		detail += "; FORCED: " + tl.Forced
		for _, v := range tl.Overridden {
			detail += "; overrides: " + v
		}
	}
	detail += consentNote
	if err := cs.Audit(ctx, tx, c.ID, actor, "disclose", detail, ""); err != nil {
		return "", err
	}
	// The date the public lists were told, if any (pre_announce): with the
	// embargo notice, or at once for a plan without embargo.
	var announced time.Time
	if old != nil && (old.NoEmbargo || !old.Notified.IsZero()) {
		announced = old.T0
	}
	if !tl.AwaitingConsent && (tl.NoEmbargo || !announced.IsZero() && !tl.Notified) {
		// No embargo notice to wait for (or the public was told a date
		// no embargo notice will correct): the public hears it now.
		if err := s.preAnnounce(ctx, tx, cs, c, p, announced, now, false); err != nil {
			return "", err
		}
	}
	c.DiscloseAt = tl.T0
	// Carry out what is due now in the caller's transaction.
	if err := s.runDueNow(ctx, tx, cs, c, jobs, now); err != nil {
		return "", err
	}
	s.Kick()
	return tl.Text(c.Ref, s.leadTZ(ctx, c), now), nil
}

// addTimeline adds the jobs of plan p (timeline tl) of c: for each list,
// its embargo notice (or the change notice of a plan it knows) and its
// pre-release notice; then the announcement and the retrospective
// reminders.
func addTimeline(ctx context.Context, tx *sql.Tx, c *cases.Case, p *plan, tl Timeline, actor string, now time.Time) ([]*Job, error) {
	var jobs []*Job
	add := func(kind string, due time.Time, d JobDetail) {
		if !due.IsZero() {
			jobs = append(jobs, &Job{CaseID: c.ID, Kind: kind, Generation: p.Generation, Due: due, Detail: d})
		}
	}
	for _, l := range tl.Lists {
		if tl.NoEmbargo {
			break
		}
		if l.Notified {
			// The force reason stays internal (audit log); distributors learn the new date.
			add(JobEmbargoChange, now, JobDetail{Previous: store.Millis(p.PreviousT0), Actor: actor, List: l.List})
		} else {
			add(JobEmbargoNotice, maxTime(l.Notice, now), JobDetail{Actor: actor, List: l.List})
		}
		add(JobPreReleaseNotice, l.PreRelease, JobDetail{List: l.List})
	}
	add(JobAnnouncement, tl.T0, JobDetail{})
	add(JobRetrospective, tl.RetroFrom, JobDetail{})
	if tl.RetroTo.After(tl.RetroFrom) {
		add(JobRetrospective, tl.RetroTo, JobDetail{Reason: retroClosing})
	}
	slices.SortStableFunc(jobs, func(a, b *Job) int { return a.Due.Compare(b.Due) })
	for _, j := range jobs {
		if err := insertJob(ctx, tx, j, now); err != nil {
			return nil, err
		}
	}
	return jobs, nil
}

// runDueNow carries out the jobs already due in the caller's transaction.
func (s *Scheduler) runDueNow(ctx context.Context, tx *sql.Tx, cs Cases, c *cases.Case, jobs []*Job, now time.Time) error {
	for _, j := range jobs {
		if j.Due.After(now) {
			continue
		}
		if _, _, err := s.runClaimed(ctx, tx, cs, j.ID, c); err != nil {
			return err
		}
	}
	return nil
}

// leadTZ is the zone plans are shown in besides UTC: the lead's.
func (s *Scheduler) leadTZ(ctx context.Context, c *cases.Case) string {
	tz := s.cfg.LeadDefaultTZ
	if team, err := s.dir.Team(ctx); err == nil {
		if m, ok := memberByFpr(team, c.Lead); ok && m.TZ != "" {
			tz = m.TZ
		}
	}
	return tz
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// Withdraw ends the disclosure plan of c, which the team has just ended as
// invalid, wontfix or opinion, inside tx: every pending step is cancelled
// and, if the embargo list was told of the embargo, it is told (encrypted)
// that the disclosure is withdrawn, and why. Without a plan, or once
// published, it does nothing.
func (s *Scheduler) Withdraw(ctx context.Context, tx *sql.Tx, c *cases.Case, reason, actor string) error {
	cs, err := s.casesOrErr()
	if err != nil {
		return err
	}
	p, err := loadPlan(ctx, tx, c.ID)
	if err != nil || p == nil || !p.Published.IsZero() {
		return err
	}
	now := s.now()
	why := fmt.Sprintf("the case is %s: disclosure withdrawn", c.State)
	n, err := s.cancelPlan(ctx, tx, c.ID, why, now, MailEmbargoNotice, MailPreReleaseNotice, MailAckReminder)
	if err != nil {
		return err
	}
	p.Generation++
	if err := savePlan(ctx, tx, p, now); err != nil {
		return err
	}
	if err := cs.Audit(ctx, tx, c.ID, actor, "withdraw", fmt.Sprintf("%s; %s cancelled", why, templates.Count(int(n), "pending step")), ""); err != nil {
		return err
	}
	lists, err := s.toldLists(ctx, tx, c, p)
	if err != nil {
		return err
	}
	for _, l := range lists {
		j := &Job{CaseID: c.ID, Kind: JobEmbargoChange, Generation: p.Generation, Due: now,
			Detail: JobDetail{Reason: reason, Withdrawn: string(c.State), Actor: actor, List: l}}
		if err := insertJob(ctx, tx, j, now); err != nil {
			return err
		}
		if _, _, err := s.runClaimed(ctx, tx, cs, j.ID, c); err != nil {
			return err
		}
	}
	if !p.Notified.IsZero() || p.NoEmbargo {
		// The public lists may have been told the date (pre_announce).
		if err := s.preAnnounce(ctx, tx, cs, c, p, time.Time{}, now, true); err != nil {
			return err
		}
	}
	// The plan is gone: a later /disclose (an opinion case that becomes an
	// advisory after all) starts a fresh embargo, and a second side exit
	// finds nothing to withdraw.
	if _, err := tx.ExecContext(ctx, `DELETE FROM schedule_audience WHERE case_id = ?`, c.ID); err != nil {
		return fmt.Errorf("schedule: withdraw %s: %w", c.Ref, err)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM schedule_plan WHERE case_id = ?`, c.ID); err != nil {
		return fmt.Errorf("schedule: withdraw %s: %w", c.Ref, err)
	}
	s.Kick()
	return nil
}

// PublishNow breaks the embargo of c inside tx: it cancels every pending
// notice, tells the distributors that the embargo is over and why (if they
// had been told of it), sends the announcement to the public lists, writes
// the artifacts and records it all.
func (s *Scheduler) PublishNow(ctx context.Context, tx *sql.Tx, c *cases.Case, reason, actor string) error {
	cs, err := s.casesOrErr()
	if err != nil {
		return err
	}
	if reason == "" {
		return fmt.Errorf("schedule: %w: /publish-now REASON", ErrNoReason)
	}
	if c.Terminal() || c.State == cases.StateFixReleased {
		return fmt.Errorf("schedule: %w: %s is %s", ErrState, c.Ref, c.State)
	}
	if c.Publishes() == cases.PublishNothing {
		return fmt.Errorf("schedule: %w: class %s publishes nothing", ErrState, c.Class)
	}
	now := s.now()
	p, err := loadPlan(ctx, tx, c.ID)
	if err != nil {
		return err
	}
	pol, err := s.Policy(c.Policy)
	if err != nil {
		return err
	}
	if p == nil {
		gen, err := nextGeneration(ctx, tx, c.ID)
		if err != nil {
			return err
		}
		p = &plan{CaseID: c.ID, Policy: pol.Name, Generation: gen - 1} // bumped below
	}
	if !p.Published.IsZero() {
		return fmt.Errorf("schedule: %w: %s was already published on %s", ErrState, c.Ref, p.Published.Format(layoutUTC))
	}
	n, err := s.cancelPlan(ctx, tx, c.ID, "embargo broken: "+reason, now, MailEmbargoNotice, MailPreReleaseNotice, MailAckReminder)
	if err != nil {
		return err
	}
	p.Generation++
	if !p.T0.IsZero() {
		p.PreviousT0 = p.T0
	}
	p.T0, p.Broken, p.PreRelease = now, reason, time.Time{}
	if p.NoticeAt.IsZero() {
		p.NoticeAt = now
	}
	p.RetroFrom, p.RetroTo = time.Time{}, time.Time{}
	if pol.RetrospectiveFrom > 0 {
		p.RetroFrom, p.RetroTo = now.Add(pol.RetrospectiveFrom), now.Add(max(pol.RetrospectiveTo, pol.RetrospectiveFrom))
	}
	if err := savePlan(ctx, tx, p, now); err != nil {
		return err
	}
	if err := cs.Audit(ctx, tx, c.ID, actor, "publish-now", fmt.Sprintf("embargo broken: %s; %s cancelled", reason, templates.Count(int(n), "pending step")), ""); err != nil {
		return err
	}
	var jobs []*Job
	lists, err := s.toldLists(ctx, tx, c, p)
	if err != nil {
		return err
	}
	for _, l := range lists {
		jobs = append(jobs, &Job{Kind: JobEmbargoChange, Due: now, Detail: JobDetail{Reason: reason, Previous: store.Millis(p.PreviousT0), Actor: actor, List: l}})
	}
	jobs = append(jobs, &Job{Kind: JobAnnouncement, Due: now, Detail: JobDetail{Reason: reason, Actor: actor}})
	if !p.RetroFrom.IsZero() {
		jobs = append(jobs, &Job{Kind: JobRetrospective, Due: p.RetroFrom})
		if p.RetroTo.After(p.RetroFrom) {
			jobs = append(jobs, &Job{Kind: JobRetrospective, Due: p.RetroTo, Detail: JobDetail{Reason: retroClosing}})
		}
	}
	for _, j := range jobs {
		j.CaseID, j.Generation = c.ID, p.Generation
		if err := insertJob(ctx, tx, j, now); err != nil {
			return err
		}
	}
	c.DiscloseAt = now
	for _, j := range jobs {
		if j.Due.After(now) {
			continue
		}
		if _, _, err := s.runClaimed(ctx, tx, cs, j.ID, c); err != nil {
			return err
		}
	}
	s.Kick()
	return nil
}
