package schedule

import (
	"fmt"
	"strings"
	"text/tabwriter"
	"time"
)

// Timeline is a planned disclosure. Zero times are steps the policy does
// not have.
type Timeline struct {
	Policy     string
	T0         time.Time // public disclosure (UTC)
	Notice     time.Time // embargo notice: now, later if the policy says, or when it went out (re-plan)
	Notified   bool      // the embargo notice already went out; a change notice goes instead
	NoEmbargo  bool      // no embargo: the distributors get no notice, the public announcement is all
	PreRelease time.Time // pre-release notice
	RetroFrom  time.Time // retrospective window
	RetroTo    time.Time
	Forced     string   // reason given to override the policy
	Overridden []string // rules the forced plan breaks
	Warnings   []string
	// Note: the disclosure publishes a security note, not an advisory
	// (the case's class).
	Note bool
	// AwaitingConsent: the policy has the reporter agree first and they
	// have not yet; nothing of the plan goes out before they do.
	AwaitingConsent bool
	// Consent is who agreed to the plan and how, or why a lead went
	// ahead without it; "" when it was not asked.
	Consent string
	// Lists is the plan of each embargo list (audience.go); ByList: the
	// text shows it list by list (more than the embargo list alone).
	Lists  []ListPlan
	ByList bool
}

// Plan computes the timeline of a disclosure at t0 under p. notified is when
// the embargo notice went out, zero if it has not yet. A plan that breaks
// the policy is refused with a *PolicyError unless force gives a reason; a
// t0 that is not in the future is always refused.
func (p Policy) Plan(now, t0, notified time.Time, force string, in PlanInfo) (Timeline, error) {
	now, t0 = now.UTC(), t0.UTC()
	force = strings.TrimSpace(force)
	if !t0.After(now) {
		return Timeline{}, fmt.Errorf("schedule: %w: %s is not after now (%s)", ErrPast, t0.Format(layoutUTC), now.Format(layoutUTC))
	}
	tl := Timeline{Policy: p.Name, T0: t0, Notified: !notified.IsZero(), NoEmbargo: in.NoEmbargo}
	if in.NoEmbargo {
		if tl.Notified {
			return Timeline{}, fmt.Errorf("schedule: %w: the embargo list was told on %s; plan again with an embargo",
				ErrState, notified.UTC().Format(layoutUTC))
		}
		if v := p.t0Violations(t0); len(v) > 0 {
			if force == "" {
				return Timeline{}, &PolicyError{Policy: p.Name, Violations: v}
			}
			tl.Forced, tl.Overridden = force, v
		} else {
			tl.Forced = force
		}
		p.finish(&tl, in)
		return tl, nil
	}
	if tl.Notified {
		tl.Notice = notified.UTC()
	} else {
		tl.Notice = p.noticeTime(now, t0)
		if tl.Notice.After(now) {
			tl.Warnings = append(tl.Warnings, "the embargo notice waits until the policy's longest embargo before disclosure; /notify sends it earlier")
		}
	}
	if v := p.Violations(tl.Notice, t0); len(v) > 0 {
		if force == "" {
			return Timeline{}, &PolicyError{Policy: p.Name, Violations: v}
		}
		tl.Forced, tl.Overridden = force, v
	} else if force != "" {
		tl.Forced = force
	}
	if p.PreReleaseNotice > 0 {
		pr := t0.Add(-p.PreReleaseNotice)
		if pr.After(tl.Notice) && pr.After(now) {
			tl.PreRelease = pr
		} else {
			tl.Warnings = append(tl.Warnings, fmt.Sprintf("no separate pre-release notice: disclosure is less than %s after the embargo notice", FormatDuration(p.PreReleaseNotice)))
		}
	}
	p.finish(&tl, in)
	return tl, nil
}

// finish adds the retrospective and the warnings that do not depend on
// an embargo to tl.
func (p Policy) finish(tl *Timeline, in PlanInfo) {
	t0 := tl.T0
	if p.RetrospectiveFrom > 0 {
		tl.RetroFrom = t0.Add(p.RetrospectiveFrom)
		tl.RetroTo = t0.Add(max(p.RetrospectiveTo, p.RetrospectiveFrom))
	}
	if in.CVSSScore > 0 && p.SlowBelow > 0 && in.CVSSScore < p.SlowBelow {
		tl.Warnings = append(tl.Warnings, fmt.Sprintf("CVSS %.1f is below %.1f: the policy allows a slower release", in.CVSSScore, p.SlowBelow))
	}
	switch {
	case in.CVSSScore <= 0 || p.OutOfBandFrom <= 0:
	case in.CVSSScore >= p.OutOfBandFrom:
		tl.Warnings = append(tl.Warnings, fmt.Sprintf("CVSS %.1f is %.1f or more: the policy gives the fix an out-of-band release, not the next patch release", in.CVSSScore, p.OutOfBandFrom))
	default:
		tl.Warnings = append(tl.Warnings, fmt.Sprintf("CVSS %.1f is below %.1f: the policy releases the fix with the next patch release, not out of band", in.CVSSScore, p.OutOfBandFrom))
	}
	if in.CVSSScore > 0 && p.SemiPublicBelow > 0 && in.CVSSScore < p.SemiPublicBelow {
		tl.Warnings = append(tl.Warnings, fmt.Sprintf("CVSS %.1f is below %.1f: the fix may be developed semi-publicly", in.CVSSScore, p.SemiPublicBelow))
	}
	// Only a deadline to release the fix is about T0: a deadline to
	// develop it (KubeEdge, Kata) is met by fix-committed, before the
	// notices go out, and a disclosure after it is the rule.
	if !in.Received.IsZero() && p.FixDeadline > 0 && p.FixDoneState == "fix-released" && t0.After(in.Received.Add(p.FixDeadline)) {
		tl.Warnings = append(tl.Warnings, fmt.Sprintf("disclosure is after the policy's deadline to %s (%s after reception, %s)",
			p.fixWhat(), FormatDuration(p.FixDeadline), in.Received.Add(p.FixDeadline).UTC().Format(layoutUTC)))
	}
}

// PlanInfo is what the plan's warnings look at, and whether it has an
// embargo.
type PlanInfo struct {
	Received  time.Time
	CVSSScore float64
	// NoEmbargo plans the public disclosure alone (Knative's embargo is
	// optional; Kata sends no downstream notice for a public issue): no
	// embargo notice, no pre-release notice, no notice-period rules.
	NoEmbargo bool
}

func (p Policy) fixWhat() string {
	if p.FixDeadlineWhat != "" {
		return p.FixDeadlineWhat
	}
	return "fix it"
}

// noticeTime is now, or, when t0 is further away than the maximum notice,
// the earliest time from which the maximum is respected.
func (p Policy) noticeTime(now, t0 time.Time) time.Time {
	n := now
	if p.MaxNotice > 0 && t0.Sub(n) > p.MaxNotice {
		n = t0.Add(-p.MaxNotice)
	}
	if p.lead > 0 && t0.Sub(n) > p.lead {
		n = t0.Add(-p.lead) // a list's own time (notice_before)
	}
	if p.MaxNoticeBusinessDays > 0 {
		for p.BusinessDays(n, t0) > p.MaxNoticeBusinessDays {
			// The next midnight (UTC) drops one whole day.
			n = time.Date(n.Year(), n.Month(), n.Day(), 0, 0, 0, 0, time.UTC).AddDate(0, 0, 1)
		}
	}
	return n
}

const layoutUTC = "2006-01-02 15:04 UTC"

// Text describes the timeline for a command answer: every step in UTC and
// in the lead's zone tz (an IANA name; UTC when empty or unknown).
func (tl Timeline) Text(ref, tz string, now time.Time) string {
	loc, err := time.LoadLocation(tz)
	if tz == "" || err != nil {
		loc, tz = time.UTC, "UTC"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Disclosure plan for %s (policy %s):\n\n", ref, tl.Policy)
	w := tabwriter.NewWriter(&b, 0, 0, 3, ' ', 0)
	utcOnly := loc == time.UTC || tz == "UTC" || tz == "Etc/UTC"
	col := func(t time.Time) string {
		if utcOnly {
			return t.UTC().Format(layoutUTC)
		}
		return t.UTC().Format(layoutUTC) + "\t" + t.In(loc).Format("2006-01-02 15:04 MST")
	}
	if utcOnly {
		fmt.Fprintf(w, "  step\tUTC\n")
	} else {
		fmt.Fprintf(w, "  step\tUTC\t%s\n", tz)
	}
	if tl.AwaitingConsent {
		fmt.Fprintf(w, "  REPORTER'S CONSENT\twaiting: nothing below goes out before they agree\n")
	}
	switch {
	case tl.ByList && !tl.NoEmbargo && !(tl.AwaitingConsent && !tl.Notified && !tl.Notice.After(now)):
		tl.listRows(func(step string, t time.Time) { fmt.Fprintf(w, "  %s\t%s\n", step, col(t)) }, now)
	case tl.NoEmbargo:
		fmt.Fprintf(w, "  no embargo\t(the distributors get no notice)\n")
	case tl.AwaitingConsent && !tl.Notified && !tl.Notice.After(now):
		fmt.Fprintf(w, "  embargo notice\t(when the reporter agrees)\n")
	case tl.Notified:
		fmt.Fprintf(w, "  embargo notice (sent)\t%s\n", col(tl.Notice))
		fmt.Fprintf(w, "  date change notice\t%s\n", col(now))
	case !tl.Notice.After(now):
		fmt.Fprintf(w, "  embargo notice (now)\t%s\n", col(now))
	default:
		fmt.Fprintf(w, "  embargo notice\t%s\n", col(tl.Notice))
	}
	if !tl.PreRelease.IsZero() && !tl.ByList {
		fmt.Fprintf(w, "  pre-release notice\t%s\n", col(tl.PreRelease))
	}
	fmt.Fprintf(w, "  PUBLIC DISCLOSURE\t%s\n", col(tl.T0))
	if !tl.RetroFrom.IsZero() {
		fmt.Fprintf(w, "  retrospective reminder\t%s\n", col(tl.RetroFrom))
	}
	w.Flush()
	if tl.ByList && !tl.NoEmbargo {
		tl.listNotesText(&b)
	}
	if tl.Note {
		b.WriteString("\nAt that time the gateway publishes a security note (its ID is given then), not an advisory, to the public lists.\n")
	}
	if tl.AwaitingConsent {
		b.WriteString("\nThe reporter is asked to agree to this plan. The embargo notice and the announcement wait for\n" +
			"their \"/agree\" in the case thread (signed by their key on file); to go ahead without it,\n" +
			"/disclose again with \"force: REASON\" (logged).\n")
	} else if tl.Consent != "" {
		fmt.Fprintf(&b, "\nReporter's consent: %s\n", tl.Consent)
	}
	if !tl.RetroFrom.IsZero() {
		fmt.Fprintf(&b, "\nRetrospective window: %s to %s.\n", tl.RetroFrom.UTC().Format(time.DateOnly), tl.RetroTo.UTC().Format(time.DateOnly))
	}
	if tl.Forced != "" {
		fmt.Fprintf(&b, "\nFORCED: %s\n", tl.Forced)
		for _, v := range tl.Overridden {
			fmt.Fprintf(&b, "  overrides: %s\n", v)
		}
	}
	for _, v := range tl.Warnings {
		fmt.Fprintf(&b, "\nNote: %s", v)
	}
	if len(tl.Warnings) > 0 {
		b.WriteString("\n")
	}
	return b.String()
}
