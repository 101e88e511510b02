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

// Several audiences (issue #18): a case's embargo notices go to every list
// its policy names (Policy.Audiences, default the [schedule] embargo_list)
// and to each list a lead added with /notify LIST. Each list is told at its
// own time under its own rules (distlist.Rules): the policy as the list
// narrows it (forList) is planned for each list, the readiness gate looks at
// each list, and every step that tells the distributors (the notice, the
// pre-release notice, a change, a withdrawal, a broken embargo) is one job
// per list, JobDetail.List. A distributor on two lists gets each list's
// notices: once per list, each with that list's subject tag and timing.

// Sources of an audience.
const (
	audiencePolicy = "policy" // named by the case's policy
	audienceNotify = "notify" // added by /notify LIST
)

// audience is one list a case's embargo notices go to.
type audience struct {
	List     string
	Rules    distlist.Rules
	Source   string
	AddedBy  string
	Notified time.Time // its first embargo notice; zero: not told yet
}

// ListPlan is what the plan does for one list.
type ListPlan struct {
	List       string
	Notice     time.Time // its embargo notice: due, or when it went out
	Notified   bool      // it was told already: a change notice goes instead
	PreRelease time.Time // its pre-release notice; zero: none
	Notes      []string  // why it is told when it is
}

// policyAudiences are the lists pol names, or the configured embargo list.
func (s *Scheduler) policyAudiences(pol Policy) []string {
	if len(pol.Audiences) > 0 {
		return pol.Audiences
	}
	return []string{s.cfg.EmbargoList}
}

// jobList is the list a notice job tells: the configured embargo list for
// a job made before there were several.
func (s *Scheduler) jobList(j Job) string {
	if j.Detail.List != "" {
		return j.Detail.List
	}
	return s.cfg.EmbargoList
}

// audiences returns the lists c's embargo notices go to: its policy's, then
// every other list the case has (added by /notify LIST, or named by the
// policy when it was told), each with its rules and when it was told.
func (s *Scheduler) audiences(ctx context.Context, q querier, c *cases.Case, pol Policy) ([]audience, error) {
	rows, err := q.QueryContext(ctx, `SELECT list, source, added_by, notified FROM schedule_audience WHERE case_id = ? ORDER BY added, list`, c.ID)
	if err != nil {
		return nil, fmt.Errorf("schedule: audiences of %s: %w", c.Ref, err)
	}
	var stored []audience
	for rows.Next() {
		var a audience
		var told int64
		if err := rows.Scan(&a.List, &a.Source, &a.AddedBy, &told); err != nil {
			rows.Close()
			return nil, fmt.Errorf("schedule: audiences of %s: %w", c.Ref, err)
		}
		a.Notified = store.Time(told)
		if a.List == "" {
			a.List = s.cfg.EmbargoList // a plan made before there were several lists
		}
		if i := slices.IndexFunc(stored, func(b audience) bool { return b.List == a.List }); i >= 0 {
			if stored[i].Notified.IsZero() || !a.Notified.IsZero() && a.Notified.Before(stored[i].Notified) {
				stored[i].Notified = a.Notified
			}
			continue
		}
		stored = append(stored, a)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("schedule: audiences of %s: %w", c.Ref, err)
	}
	var out []audience
	for _, name := range s.policyAudiences(pol) {
		if i := slices.IndexFunc(stored, func(a audience) bool { return a.List == name }); i >= 0 {
			out = append(out, stored[i])
			continue
		}
		out = append(out, audience{List: name, Source: audiencePolicy})
	}
	for _, a := range stored {
		if !slices.ContainsFunc(out, func(b audience) bool { return b.List == a.List }) {
			out = append(out, a)
		}
	}
	for i := range out {
		l, err := s.dir.List(ctx, out[i].List)
		switch {
		case errors.Is(err, distlist.ErrNotFound):
		case err != nil:
			return nil, err
		default:
			out[i].Rules = l.Rules
		}
	}
	return out, nil
}

// byList reports whether the plan is shown list by list: more than the
// configured embargo list under the policy alone.
func (s *Scheduler) byList(auds []audience) bool {
	return len(auds) != 1 || auds[0].List != s.cfg.EmbargoList || !auds[0].Rules.IsZero()
}

// told records in tx that list heard of c's embargo at now (its first
// embargo notice; later ones keep the first time).
func told(ctx context.Context, tx *sql.Tx, caseID int64, list, source, actor string, now time.Time) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO schedule_audience (case_id, list, source, added_by, added, notified) VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (case_id, list) DO UPDATE SET notified = CASE WHEN notified = 0 THEN excluded.notified ELSE notified END`,
		caseID, list, source, actor, store.Millis(now), store.Millis(now))
	if err != nil {
		return fmt.Errorf("schedule: record that %s was told: %w", list, err)
	}
	return nil
}

// addAudience records in tx that actor added list to c's audiences
// (/notify LIST); a list the case has already keeps its record.
func addAudience(ctx context.Context, tx *sql.Tx, caseID int64, list, actor string, now time.Time) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO schedule_audience (case_id, list, source, added_by, added) VALUES (?, ?, 'notify', ?, ?)
		ON CONFLICT (case_id, list) DO NOTHING`, caseID, list, actor, store.Millis(now))
	if err != nil {
		return fmt.Errorf("schedule: add %s to the audiences: %w", list, err)
	}
	return nil
}

// forList returns pol as list r narrows it: never a longer embargo than the
// list accepts, its own notice time, its pre-release notice and CVE rule.
// A list's maximum shorter than the policy's minimum prevails: the list is
// told no earlier than it accepts, and that is no violation.
func (pol Policy) forList(r distlist.Rules) Policy {
	p := pol
	if r.MaxEmbargo > 0 && (p.MaxNotice == 0 || r.MaxEmbargo < p.MaxNotice) {
		p.MaxNotice = r.MaxEmbargo
	}
	p.lead = r.Lead()
	if p.MaxNotice > 0 && p.lead > p.MaxNotice {
		p.lead = 0 // the maximum decides
	}
	if limit := r.Lead(); limit > 0 && p.MinNotice > limit {
		p.MinNotice = limit
	}
	if r.NoPreRelease {
		p.PreReleaseNotice = 0
	}
	p.RequireCVE = p.RequireCVE || r.RequireCVE
	return p
}

// planAudiences plans the disclosure at t0 for every audience: each list's
// notice under the policy as it narrows it. The timeline is that of the
// first list, with every list's plan in Lists; the violations of all lists
// together refuse the plan unless force gives a reason.
func (s *Scheduler) planAudiences(pol Policy, auds []audience, now, t0 time.Time, force string, in PlanInfo) (Timeline, error) {
	var notified time.Time
	for _, a := range auds {
		if !a.Notified.IsZero() && (notified.IsZero() || a.Notified.Before(notified)) {
			notified = a.Notified
		}
	}
	if in.NoEmbargo || len(auds) == 0 {
		return pol.Plan(now, t0, notified, force, in)
	}
	prefix := s.byList(auds)
	var (
		tl         Timeline
		violations []string
	)
	t0v := pol.t0Violations(t0)
	for i, a := range auds {
		lp := pol.forList(a.Rules)
		pa, err := lp.Plan(now, t0, a.Notified, force, in)
		var pe *PolicyError
		switch {
		case errors.As(err, &pe):
			pa.Overridden = pe.Violations // not forced: the plan is refused below
		case err != nil:
			return Timeline{}, err
		}
		for _, v := range pa.Overridden {
			if prefix && !slices.Contains(t0v, v) {
				v = a.List + ": " + v
			}
			if !slices.Contains(violations, v) {
				violations = append(violations, v)
			}
		}
		if i == 0 {
			tl = pa
		}
		tl.Lists = append(tl.Lists, ListPlan{List: a.List, Notice: pa.Notice, Notified: pa.Notified, PreRelease: pa.PreRelease,
			Notes: listNotes(pol, lp, a, pa, now)})
	}
	tl.ByList = prefix
	tl.Forced, tl.Overridden = "", nil
	if len(violations) > 0 {
		if force == "" {
			return Timeline{}, &PolicyError{Policy: pol.Name, Violations: violations}
		}
		tl.Overridden = violations
	}
	tl.Forced = force
	if prefix {
		// The plan as a whole: its earliest notice, told when any list was.
		tl.PreRelease = time.Time{}
		for _, l := range tl.Lists {
			if l.Notice.Before(tl.Notice) {
				tl.Notice = l.Notice
			}
			tl.Notified = tl.Notified || l.Notified
			if !l.PreRelease.IsZero() && (tl.PreRelease.IsZero() || l.PreRelease.Before(tl.PreRelease)) {
				tl.PreRelease = l.PreRelease
			}
		}
	}
	return tl, nil
}

// listNotes say why list a is told when it is (lp: the policy as the list
// narrows it; pa: its plan).
func listNotes(pol, lp Policy, a audience, pa Timeline, now time.Time) []string {
	var n []string
	r, t0 := a.Rules, pa.T0
	switch {
	case pa.Notified:
		n = append(n, "told "+pa.Notice.UTC().Format(layoutUTC)+": it gets the change notice now")
	case r.MaxEmbargo > 0 && t0.Sub(now) > r.MaxEmbargo:
		n = append(n, fmt.Sprintf("not told now: the embargo of %s is longer than its %s; it is told %s before disclosure, %s",
			FormatDuration(t0.Sub(now)), FormatDuration(r.MaxEmbargo), FormatDuration(t0.Sub(pa.Notice)), pa.Notice.UTC().Format(layoutUTC)))
	case pa.Notice.After(now) && lp.lead > 0:
		n = append(n, fmt.Sprintf("told %s before disclosure (its notice_before), %s", FormatDuration(lp.lead), pa.Notice.UTC().Format(layoutUTC)))
	case pa.Notice.After(now):
		n = append(n, "told "+pa.Notice.UTC().Format(layoutUTC)+", the policy's longest embargo before disclosure")
	default:
		n = append(n, "told now")
	}
	if lp.MinNotice < pol.MinNotice {
		n = append(n, fmt.Sprintf("its rules allow at most %s, less than the policy's minimum of %s: the list's rule prevails",
			FormatDuration(lp.MinNotice), FormatDuration(pol.MinNotice)))
	}
	if r.NoPreRelease && pol.PreReleaseNotice > 0 {
		n = append(n, "no pre-release notice (its rule)")
	}
	if r.RequireCVE && !pol.RequireCVE {
		n = append(n, "told only with a CVE ID (its rule)")
	}
	if r.SubjectTag != "" {
		n = append(n, "subjects tagged "+r.SubjectTag)
	}
	return n
}

// listReadiness checks what list a needs before c's notice goes to it:
// that it exists and is an embargo list, the CVE ID it may require, and a
// key valid through t0 for each distributor. keyProblems are forceable,
// missing is not.
func (s *Scheduler) listReadiness(ctx context.Context, c *cases.Case, pol Policy, a audience, now, t0 time.Time) (missing, keyProblems []string, err error) {
	l, err := s.dir.List(ctx, a.List)
	if errors.Is(err, distlist.ErrNotFound) {
		return nil, []string{fmt.Sprintf("the embargo list %q does not exist: nobody would be notified", a.List)}, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("schedule: readiness of %s: %w", c.Ref, err)
	}
	if l.Kind != distlist.KindEmbargo {
		missing = append(missing, fmt.Sprintf("list %q is a list of kind %s, not an embargo list: it gets no embargo notice", a.List, l.Kind))
	}
	if a.Rules.RequireCVE && !pol.RequireCVE && c.CVE == "" {
		missing = append(missing, fmt.Sprintf("no CVE ID (/cve): list %q is told only of a vulnerability that has one", a.List))
	}
	for _, r := range l.Recipients {
		switch {
		case r.Key == nil:
			keyProblems = append(keyProblems, fmt.Sprintf("%s has no key", r.Address))
		default:
			if err := r.Key.CheckThrough(now, t0); err != nil {
				keyProblems = append(keyProblems, fmt.Sprintf("%s: key %s is not valid through %s (%v)",
					r.Address, r.Key.Fingerprint(), t0.UTC().Format(layoutUTC), err))
			}
		}
	}
	return missing, keyProblems, nil
}

// earliest is when list a may be told of an embargo ending at t0 at the
// earliest under its own rules (zero: no limit of its own).
func (a audience) earliest(t0 time.Time) time.Time {
	if a.Rules.MaxEmbargo <= 0 {
		return time.Time{}
	}
	return t0.Add(-a.Rules.MaxEmbargo)
}

// listGuard checks notice job j against its list's rules as they are when
// it runs (the configuration may have changed since the plan): a notice
// due before the list accepts one is moved to the time it does, a notice
// of a case without the CVE ID the list requires is held and the lead
// told, a pre-release notice never goes to a list that was not told of the
// embargo. ok is false when j must not run now; state and result say why.
func (s *Scheduler) listGuard(ctx context.Context, tx *sql.Tx, cs Cases, j Job, c *cases.Case, p *plan, now time.Time) (state, result string, ok bool, err error) {
	pol, err := s.Policy(p.Policy)
	if err != nil {
		return "", "", false, err
	}
	auds, err := s.audiences(ctx, tx, c, pol)
	if err != nil {
		return "", "", false, err
	}
	name := s.jobList(j)
	i := slices.IndexFunc(auds, func(a audience) bool { return a.List == name })
	if i < 0 {
		return JobSkipped, fmt.Sprintf("list %s is no longer an audience of the case", name), false, nil
	}
	a := auds[i]
	if j.Kind == JobPreReleaseNotice && a.Notified.IsZero() {
		return JobSkipped, fmt.Sprintf("list %s was not told of the embargo: no pre-release notice", name), false, nil
	}
	if j.Kind != JobEmbargoNotice {
		return "", "", true, nil
	}
	if at := a.earliest(p.T0); now.Before(at) {
		moved := &Job{CaseID: c.ID, Kind: JobEmbargoNotice, Generation: j.Generation, Due: at, Detail: j.Detail}
		if err := insertJob(ctx, tx, moved, now); err != nil {
			return "", "", false, err
		}
		return JobSkipped, fmt.Sprintf("list %s accepts an embargo of at most %s: its notice moved to %s",
			name, FormatDuration(a.Rules.MaxEmbargo), at.UTC().Format(layoutUTC)), false, nil
	}
	if a.Rules.RequireCVE && c.CVE == "" {
		text := fmt.Sprintf("The embargo notice of %s to list %s was due at %s and was NOT sent: the list is told only\n"+
			"of a vulnerability with a CVE ID, and the case has none. Set it with /cve, then /notify %s.\n",
			c.Ref, name, j.Due.UTC().Format(layoutUTC), name)
		if err := cs.Alert(ctx, tx, c.ID, "HELD: embargo notice to "+name+" needs a CVE ID", text); err != nil {
			return "", "", false, err
		}
		return JobSkipped, fmt.Sprintf("list %s is told only with a CVE ID, and the case has none", name), false, nil
	}
	return "", "", true, nil
}

// listRows adds the steps of each list to a plan's table (row).
func (tl Timeline) listRows(row func(step string, t time.Time), now time.Time) {
	for _, l := range tl.Lists {
		switch {
		case l.Notified:
			row("embargo notice to "+l.List+" (sent)", l.Notice)
			row("date change notice to "+l.List, now)
		case !l.Notice.After(now):
			row("embargo notice to "+l.List+" (now)", now)
		default:
			row("embargo notice to "+l.List, l.Notice)
		}
	}
	for _, l := range tl.Lists {
		if !l.PreRelease.IsZero() {
			row("pre-release notice to "+l.List, l.PreRelease)
		}
	}
}

// listNotesText says, after the table, why each list is told when it is.
func (tl Timeline) listNotesText(b *strings.Builder) {
	b.WriteString("\nLists:\n")
	for _, l := range tl.Lists {
		fmt.Fprintf(b, "  %s: %s\n", l.List, strings.Join(l.Notes, "; "))
	}
}

// toldLists are the lists that were told of c's embargo (plan p): each
// gets the change, withdrawal or broken-embargo notice.
func (s *Scheduler) toldLists(ctx context.Context, q querier, c *cases.Case, p *plan) ([]string, error) {
	if p.Notified.IsZero() {
		return nil, nil
	}
	pol, err := s.Policy(p.Policy)
	if err != nil {
		return nil, err
	}
	auds, err := s.audiences(ctx, q, c, pol)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, a := range auds {
		if !a.Notified.IsZero() {
			out = append(out, a.List)
		}
	}
	return out, nil
}

// checkAudiences reports an empty or repeated name among a policy's
// audiences.
func checkAudiences(names []string) error {
	for i, n := range names {
		if strings.TrimSpace(n) == "" {
			return fmt.Errorf("audiences: an empty list name")
		}
		if slices.Contains(names[:i], n) {
			return fmt.Errorf("audiences: list %q is named twice", n)
		}
	}
	return nil
}
