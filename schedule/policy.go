package schedule

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// Day is 24 hours; policies speak in days.
const Day = 24 * time.Hour

// Policy is the set of rules a case's disclosure follows. Zero values turn a
// rule off.
type Policy struct {
	Name string `toml:"name" doc:"Name of the policy, recorded on each case."`

	MinNotice             time.Duration `toml:"min_notice" doc:"Least time between the embargo notice and public disclosure (0: no minimum)."`
	MaxNotice             time.Duration `toml:"max_notice" doc:"Most time between the embargo notice and public disclosure (0: no maximum)."`
	MinNoticeBusinessDays int           `toml:"min_notice_business_days" doc:"Least number of whole business days between the embargo notice and public disclosure (0: no minimum)."`
	MaxNoticeBusinessDays int           `toml:"max_notice_business_days" doc:"Most number of whole business days between the embargo notice and public disclosure (0: no maximum)."`
	PreReleaseNotice      time.Duration `toml:"pre_release_notice" doc:"How long before disclosure the distributors get the pre-release notice with the public messaging (0: none)."`
	RequireCVE            bool          `toml:"require_cve" doc:"The distributors are told only of a vulnerability with a CVE ID: a disclosure with an embargo needs /cve first (Kata, KubeEdge)."`
	OutOfBandFrom         float64       `toml:"out_of_band_from" doc:"CVSS score from which the plan notes that the fix gets an out-of-band release rather than the next patch release (0: no note; KubeEdge: 7.0, high and critical)."`
	PreAnnounce           bool          `toml:"pre_announce" doc:"Tell the public lists the date and time of a planned release (its severity, never what it is) when the embargo notice goes out, or at once for a disclosure without embargo, and again when the date moves (Knative)."`

	EvaluationDeadline time.Duration `toml:"evaluation_deadline" doc:"Time from reception within which the report must be evaluated (0: none)."`
	FixDeadline        time.Duration `toml:"fix_deadline" doc:"Time from reception within which the fix must be developed or released (0: none)."`
	FixDeadlineWhat    string        `toml:"fix_deadline_what" doc:"What the fix deadline asks for, as shown in reminders (\"release the fix\")."`
	FixDoneState       string        `toml:"fix_done_state" doc:"Case state that meets the fix deadline: fix-committed or fix-released."`
	AnnounceToEmbargo  bool          `toml:"announce_to_embargo" doc:"The release-day announcement also goes to the embargo list, encrypted to each distributor (Knative: the embargo list hears the release as it happens)."`
	LeadReleases       bool          `toml:"lead_releases" doc:"The fix lead says when the fix is released (/status fix-released: all patches merged, Kata); the announcement does not move the case to fix-released."`
	ImpactReview       bool          `toml:"impact_review" doc:"The reporter reviews the impact description when the case is triaged (Kata: the description is validated by the reporter): it is mailed to them, encrypted to their key, never in clear; without a key on file the fix lead is told that it was not sent."`
	ReporterConsent    bool          `toml:"reporter_consent" doc:"The reporter agrees to a planned disclosure before anything of it goes out (Kata: the reporter's choice of disclosure terms prevails): /disclose proposes the date to them, and the embargo notice and the announcement wait for their signed /agree, or for a lead who forces."`
	ReminderLead       time.Duration `toml:"reminder_lead" doc:"How long before a deadline the lead is reminded (0: only when missed)."`
	AckReminder        time.Duration `toml:"ack_reminder" doc:"How long after an embargo or pre-release notice was delivered a distributor who has not acknowledged it (a reply in its thread signed by their key on file) is reminded, once, never at or after the disclosure time (0: no reminder; default 48h)."`
	AckEscalate        time.Duration `toml:"ack_escalate" doc:"How long after an embargo or pre-release notice was sent the fix lead is told who has not acknowledged it, at the latest 24 hours before the disclosure time (0: never; default 96h)."`

	RetrospectiveFrom time.Duration `toml:"retrospective_from" doc:"Start of the retrospective window after disclosure; the reminder is sent then (0: no retrospective)."`
	RetrospectiveTo   time.Duration `toml:"retrospective_to" doc:"End of the retrospective window after disclosure."`

	SlowBelow       float64 `toml:"slow_below" doc:"CVSS score under which the team may slow the release down (0: no band)."`
	SemiPublicBelow float64 `toml:"semi_public_below" doc:"CVSS score under which the fix may be developed semi-publicly (0: no band)."`

	Holidays       []string `toml:"holidays" doc:"Dates (YYYY-MM-DD, UTC) that are not business days and never disclosure days."`
	DisclosureTime string   `toml:"disclosure_time" doc:"Fixed time of day for disclosure in UTC, HH:MM (empty: any time)."`
	Weekdays       []string `toml:"weekdays" doc:"Weekdays allowed for disclosure, e.g. [\"Tue\", \"Wed\", \"Thu\"] (empty: any day)."`

	// Audiences are the embargo lists the notices go to (audience.go).
	Audiences []string `toml:"audiences" doc:"Embargo lists that get the case's notices, each at its own time under its own rules ([[distlist.list]] max_embargo, notice_before, ...), e.g. [\"embargo\", \"distros\"] (empty: the one [schedule] embargo_list)."`

	// lead is the notice time of one list's plan: T0 minus it
	// (distlist.Rules.Lead), set by forList.
	lead time.Duration
}

// Presets are the policies of the three process documents.
var presets = map[string]Policy{
	// Knative: evaluate within 1-7 days; the embargo list is told at least
	// three weeks (at most four) before disclosure; fix release within 28
	// days; retrospective 1-3 days after release; CVSS < 4.0 may slow down.
	// The 24-hour pre-release notice is not in the Knative or Kata
	// documents but in the product's timeline for every policy; set
	// pre_release_notice = "0s" to turn it off.
	"knative": {
		Name:               "knative",
		PreAnnounce:        true,
		AnnounceToEmbargo:  true,
		MinNotice:          21 * Day,
		MaxNotice:          28 * Day,
		PreReleaseNotice:   Day,
		EvaluationDeadline: 7 * Day,
		FixDeadline:        28 * Day,
		FixDeadlineWhat:    "release the fix",
		FixDoneState:       "fix-released",
		ReminderLead:       2 * Day,
		RetrospectiveFrom:  1 * Day,
		RetrospectiveTo:    3 * Day,
		SlowBelow:          4.0,
	},
	// Kata Containers: downstream stakeholders get 3-5 business days,
	// disclosure at 0000 UTC, never on a Monday, a Friday or a holiday;
	// issues taking more than 2 weeks to fix are better solved in the open.
	"kata": {
		Name:                  "kata",
		RequireCVE:            true,
		MinNoticeBusinessDays: 3,
		MaxNoticeBusinessDays: 5,
		PreReleaseNotice:      Day,
		FixDeadline:           14 * Day,
		FixDeadlineWhat:       "fix it (or consider solving it in the open)",
		FixDoneState:          "fix-committed",
		LeadReleases:          true,
		ReporterConsent:       true,
		ImpactReview:          true,
		ReminderLead:          2 * Day,
		DisclosureTime:        "00:00",
		Weekdays:              []string{"Tue", "Wed", "Thu"},
	},
	// KubeEdge: fix development within 1-7 days; private distributors told
	// at least 7 days (within 1-4 weeks) before disclosure and again at
	// least 24 hours before; CVSS < ~4.0 may slow down, < ~7.0 semi-public.
	"kubeedge": {
		Name:             "kubeedge",
		RequireCVE:       true,
		OutOfBandFrom:    7.0,
		MinNotice:        7 * Day,
		MaxNotice:        28 * Day,
		PreReleaseNotice: Day,
		FixDeadline:      7 * Day,
		FixDeadlineWhat:  "develop the fix",
		FixDoneState:     "fix-committed",
		ReminderLead:     2 * Day,
		SlowBelow:        4.0,
		SemiPublicBelow:  7.0,
	},
}

// PresetNames returns the names of the built-in policies.
func PresetNames() []string {
	var n []string
	for k := range presets {
		n = append(n, k)
	}
	sort.Strings(n)
	return n
}

// Preset returns a copy of the named built-in policy.
func Preset(name string) (Policy, error) {
	p, ok := presets[name]
	if !ok {
		return Policy{}, fmt.Errorf("schedule: %w %q (presets: %s)", ErrUnknownPolicy, name, strings.Join(PresetNames(), ", "))
	}
	p.Holidays = append([]string(nil), p.Holidays...)
	p.Weekdays = append([]string(nil), p.Weekdays...)
	p.Audiences = append([]string(nil), p.Audiences...)
	p.AckReminder, p.AckEscalate = DefaultAckReminder, DefaultAckEscalate // every preset's
	return p, nil
}

// Check reports configuration mistakes in p.
func (p Policy) Check() error {
	var errs []string
	if p.MinNotice < 0 || p.MaxNotice < 0 || p.PreReleaseNotice < 0 || p.EvaluationDeadline < 0 ||
		p.FixDeadline < 0 || p.ReminderLead < 0 || p.AckReminder < 0 || p.AckEscalate < 0 || p.RetrospectiveFrom < 0 || p.RetrospectiveTo < 0 {
		errs = append(errs, "durations must not be negative")
	}
	if p.MaxNotice > 0 && p.MaxNotice < p.MinNotice {
		errs = append(errs, "max_notice is shorter than min_notice")
	}
	if p.MaxNoticeBusinessDays > 0 && p.MaxNoticeBusinessDays < p.MinNoticeBusinessDays {
		errs = append(errs, "max_notice_business_days is less than min_notice_business_days")
	}
	if p.RetrospectiveTo < p.RetrospectiveFrom {
		errs = append(errs, "retrospective_to is before retrospective_from")
	}
	switch p.FixDoneState {
	case "", "fix-committed", "fix-released":
	default:
		errs = append(errs, fmt.Sprintf("fix_done_state %q: want fix-committed or fix-released", p.FixDoneState))
	}
	if _, _, err := p.disclosureTime(); err != nil {
		errs = append(errs, err.Error())
	}
	if _, err := p.weekdays(); err != nil {
		errs = append(errs, err.Error())
	}
	if _, err := p.holidays(); err != nil {
		errs = append(errs, err.Error())
	}
	if err := checkAudiences(p.Audiences); err != nil {
		errs = append(errs, err.Error())
	}
	if len(errs) > 0 {
		return fmt.Errorf("schedule: policy %q: %s", p.Name, strings.Join(errs, "; "))
	}
	return nil
}

func (p Policy) disclosureTime() (h, m int, err error) {
	if p.DisclosureTime == "" {
		return -1, -1, nil
	}
	t, err := time.Parse("15:04", p.DisclosureTime)
	if err != nil {
		return 0, 0, fmt.Errorf("disclosure_time %q is not HH:MM", p.DisclosureTime)
	}
	return t.Hour(), t.Minute(), nil
}

var weekdayNames = map[string]time.Weekday{
	"sun": time.Sunday, "mon": time.Monday, "tue": time.Tuesday, "wed": time.Wednesday,
	"thu": time.Thursday, "fri": time.Friday, "sat": time.Saturday,
}

func (p Policy) weekdays() (map[time.Weekday]bool, error) {
	if len(p.Weekdays) == 0 {
		return nil, nil
	}
	m := map[time.Weekday]bool{}
	for _, s := range p.Weekdays {
		k := strings.ToLower(s)
		if len(k) > 3 {
			k = k[:3]
		}
		d, ok := weekdayNames[k]
		if !ok {
			return nil, fmt.Errorf("weekday %q unknown", s)
		}
		m[d] = true
	}
	return m, nil
}

func (p Policy) holidays() (map[string]bool, error) {
	m := map[string]bool{}
	for _, h := range p.Holidays {
		if _, err := time.Parse(time.DateOnly, h); err != nil {
			return nil, fmt.Errorf("holiday %q is not YYYY-MM-DD", h)
		}
		m[h] = true
	}
	return m, nil
}

// IsBusinessDay reports whether the UTC date of t is a business day:
// Monday to Friday and not a holiday.
func (p Policy) IsBusinessDay(t time.Time) bool {
	t = t.UTC()
	if wd := t.Weekday(); wd == time.Saturday || wd == time.Sunday {
		return false
	}
	h, _ := p.holidays()
	return !h[t.Format(time.DateOnly)]
}

// BusinessDays counts the whole business days (UTC) that lie between from
// and to: days that start after from and end no later than to.
func (p Policy) BusinessDays(from, to time.Time) int {
	from, to = from.UTC(), to.UTC()
	d := time.Date(from.Year(), from.Month(), from.Day(), 0, 0, 0, 0, time.UTC)
	if d.Before(from) {
		d = d.AddDate(0, 0, 1)
	}
	n := 0
	for !d.AddDate(0, 0, 1).After(to) {
		if p.IsBusinessDay(d) {
			n++
		}
		d = d.AddDate(0, 0, 1)
	}
	return n
}
