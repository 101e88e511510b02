package schedule

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/secgate/secgate/cases"
	"github.com/secgate/secgate/distlist"
)

// Step states: a job's, except that a pending job is planned and a notice
// skipped because its disclosure time had passed was missed; the
// reporter's consent may also be waiting (StepWaiting).
const (
	StepPlanned   = "planned"
	StepDone      = "done"
	StepSkipped   = "skipped"
	StepCancelled = "cancelled"
	StepFailed    = "failed"
	StepMissed    = "missed"
)

// StepPreAnnouncement is the kind of the step that tells the public lists
// the release date (pre_announce). It is no job of its own: it goes with
// the embargo notice, a date change, or at once for a plan without
// embargo.
const StepPreAnnouncement = MailPreAnnouncement

// Step is one step of a case's disclosure timeline, past or planned, with
// the mail it caused.
type Step struct {
	Job      int64  // the schedule job; 0 for a pre-announcement
	Kind     string // a job kind, or StepPreAnnouncement
	What     string // the step for people: "embargo notice", "announcement (T0)"...
	Audience []string
	Due      time.Time // when the step was or is planned
	State    string
	Result   string    // what the step did, or why it did not
	Finished time.Time // when it ran, was cancelled or failed; zero while planned
	Mail     []StepMail
}

// StepMail is a recipient's delivery of a step's mail, with the audience
// (a list, or "lead") it went to as.
type StepMail struct {
	distlist.Delivery
	Audience string
}

// Steps returns the steps of case c's disclosure timeline in order: every
// job it has had (those of plans since replaced are cancelled, or done),
// each pre-announcement, and the pre-announcement still to go with an
// embargo notice that waits. Each step that sent mail has its recipients'
// deliveries. It only reads.
func (s *Scheduler) Steps(ctx context.Context, c *cases.Case) ([]Step, error) {
	jobs, err := s.Jobs(ctx, c.ID)
	if err != nil {
		return nil, err
	}
	p, err := loadPlan(ctx, s.db.Reader(), c.ID)
	if err != nil {
		return nil, err
	}
	mail, err := distlist.CaseDeliveries(ctx, s.db, c.ID)
	if err != nil {
		return nil, fmt.Errorf("schedule: steps of %s: %w", c.Ref, err)
	}
	policy := c.Policy
	if p != nil {
		policy = p.Policy
	}
	pol, polErr := s.Policy(policy)

	var steps []Step
	var waiting *Job // an embargo notice still to go out
	for _, j := range jobs {
		st := Step{Job: j.ID, Kind: j.Kind, What: s.stepWhat(j, pol, polErr == nil), Due: j.Due, State: stepState(j),
			Result: j.Result, Finished: j.Finished}
		if st.State == StepPlanned {
			st.Finished = time.Time{}
		}
		// A notice to one audience has the job's notice ID; the
		// announcement's have the list's name after it.
		notice := noticeID(c, j)
		configured := s.audience(j.Kind, pol, polErr == nil)
		if j.Detail.List != "" && j.Kind != JobAnnouncement && j.Kind != JobRetrospective {
			configured = []string{j.Detail.List} // one list's notice
		}
		for _, d := range mail {
			switch {
			case d.NoticeID == notice:
				st.Mail = append(st.Mail, StepMail{Delivery: d, Audience: strings.Join(configured, ",")})
			case strings.HasPrefix(d.NoticeID, notice+"-"):
				list := strings.TrimPrefix(d.NoticeID, notice+"-")
				st.Mail = append(st.Mail, StepMail{Delivery: d, Audience: list})
				st.Audience = appendNew(st.Audience, list)
			}
		}
		if len(st.Audience) == 0 {
			st.Audience = configured
		}
		if j.Kind == JobEmbargoNotice && j.State == JobPending {
			waiting = &j
		}
		steps = append(steps, st)
	}

	// Pre-announcements: the notice IDs are REF-preannounce-GEN-CANCELLED-LIST.
	prefix := c.Ref + "-preannounce-"
	groups := map[string]int{} // notice without the list: index in steps
	first := true
	for _, d := range mail {
		if d.Kind != MailPreAnnouncement || !strings.HasPrefix(d.NoticeID, prefix) {
			continue
		}
		parts := strings.SplitN(strings.TrimPrefix(d.NoticeID, prefix), "-", 3)
		if len(parts) != 3 {
			continue
		}
		group := parts[0] + "-" + parts[1]
		i, ok := groups[group]
		if !ok {
			what := "pre-announcement of the new release date"
			switch {
			case parts[1] == strconv.FormatBool(true):
				what = "pre-announcement that the release is cancelled"
			case first:
				what, first = "pre-announcement of the release date", false
			}
			steps = append(steps, Step{Kind: StepPreAnnouncement, What: what, Due: d.Created, State: StepDone,
				Result: "sent to the public lists", Finished: d.Created})
			i = len(steps) - 1
			groups[group] = i
		}
		steps[i].Audience = appendNew(steps[i].Audience, parts[2])
		steps[i].Mail = append(steps[i].Mail, StepMail{Delivery: d, Audience: parts[2]})
	}
	if waiting != nil && polErr == nil && pol.PreAnnounce && p != nil && p.Notified.IsZero() && !p.NoEmbargo {
		steps = append(steps, Step{Kind: StepPreAnnouncement, What: "pre-announcement of the release date", Due: waiting.Due,
			State: StepPlanned, Audience: slices.Clone(s.cfg.PublicLists)})
	}
	consent, err := s.consentSteps(ctx, c, p, pol, polErr == nil)
	if err != nil {
		return nil, err
	}
	steps = append(steps, consent...)
	slices.SortStableFunc(steps, func(a, b Step) int {
		return cmp.Or(a.Due.Compare(b.Due), cmp.Compare(stepSeq(a), stepSeq(b)), cmp.Compare(a.Job, b.Job))
	})
	return steps, nil
}

// stepSeq orders steps due at the same moment: a pre-announcement comes
// right after the notice it goes with.
func stepSeq(st Step) int {
	if st.Kind == StepPreAnnouncement {
		return jobSeq[JobEmbargoNotice] + 5
	}
	return jobSeq[st.Kind]
}

// stepState is the state of job j's step.
func stepState(j Job) string {
	switch j.State {
	case JobPending:
		return StepPlanned
	case JobDone:
		return StepDone
	case JobCancelled:
		return StepCancelled
	case JobFailed:
		return StepFailed
	case JobSkipped:
		// A notice run only after the disclosure time it announces (the
		// gateway was down, its clock jumped) is never sent: missed.
		if j.Kind != JobAnnouncement && j.Kind != JobRetrospective && strings.HasPrefix(j.Result, "disclosure time ") &&
			strings.Contains(j.Result, "has passed") {
			return StepMissed
		}
		return StepSkipped
	}
	return j.State
}

// stepWhat names job j's step for people.
func (s *Scheduler) stepWhat(j Job, pol Policy, havePolicy bool) string {
	switch j.Kind {
	case JobEmbargoNotice:
		if j.Detail.Reason == "/notify" {
			return "embargo notice (/notify)"
		}
		return "embargo notice"
	case JobEmbargoChange:
		switch {
		case j.Detail.Withdrawn != "":
			return "withdrawal notice (the case is " + j.Detail.Withdrawn + ")"
		case j.Detail.Reason != "":
			return "embargo-broken notice"
		}
		return "date change notice"
	case JobPreReleaseNotice:
		if havePolicy && pol.PreReleaseNotice > 0 {
			return "pre-release notice (" + FormatDuration(pol.PreReleaseNotice) + " before T0)"
		}
		return "pre-release notice"
	case JobAnnouncement:
		if j.Detail.Reason != "" {
			return "announcement (T0, embargo broken)"
		}
		return "announcement (T0)"
	case JobRetrospective:
		if j.Detail.Reason == retroClosing {
			return "retrospective reminder (window closes)"
		}
		return "retrospective reminder (window opens)"
	}
	return j.Kind
}

// audience names who a step of kind is for, as configured now.
func (s *Scheduler) audience(kind string, pol Policy, havePolicy bool) []string {
	switch kind {
	case JobEmbargoNotice, JobEmbargoChange, JobPreReleaseNotice:
		return []string{s.cfg.EmbargoList}
	case JobAnnouncement:
		a := slices.Clone(s.cfg.PublicLists)
		if havePolicy && pol.AnnounceToEmbargo {
			a = appendNew(a, s.cfg.EmbargoList)
		}
		return a
	case JobRetrospective:
		return []string{"lead"}
	}
	return nil
}

func appendNew(list []string, s string) []string {
	if slices.Contains(list, s) {
		return list
	}
	return append(list, s)
}
