package schedule

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// Config configures the scheduler.
type Config struct {
	Policy        string              `toml:"policy" doc:"Policy of new cases: knative, kata, kubeedge or a name defined under policies (the one key for it; [cases] policy is a deprecated alias)."`
	Policies      map[string]Override `toml:"policies" doc:"Overrides of preset policies, or new policies based on one, by name: a table [schedule.policies.NAME] with base (the preset it starts from, default NAME) and any of min_notice, max_notice, min_notice_business_days, max_notice_business_days, pre_release_notice, pre_announce (tell the public lists the release date), require_cve, out_of_band_from, evaluation_deadline, fix_deadline, fix_deadline_what, fix_done_state, lead_releases, announce_to_embargo, reporter_consent (the reporter agrees to a planned disclosure before anything of it goes out), impact_review (the reporter reviews the impact description at triage), reminder_lead, ack_reminder, ack_escalate (reminders and escalation of notices not acknowledged), retrospective_from, retrospective_to, slow_below, semi_public_below, holidays, disclosure_time, weekdays, audiences (the embargo lists the notices go to); secgate config check shows the result."`
	EmbargoList   string              `toml:"embargo_list" doc:"Name of the distribution list that receives embargo and pre-release notices."`
	PublicLists   []string            `toml:"public_lists" doc:"Names of the public lists that receive the announcement at disclosure time."`
	ArtifactsDir  string              `toml:"artifacts_dir" doc:"Directory where the advisory, CVE JSON 5 and OSV records are written at disclosure time (empty: not written)."`
	Artifacts     ArtifactsConfig     `toml:"artifacts" doc:"Fields of the machine-readable records."`
	RetryDelay    time.Duration       `toml:"retry_delay" doc:"Delay before a failed job is tried again; it doubles on each failure."`
	MaxAttempts   int                 `toml:"max_attempts" doc:"Attempts of a failing job before it is given up and the lead is told."`
	SLAInterval   time.Duration       `toml:"sla_interval" doc:"How often open cases are checked against the policy deadlines."`
	PollInterval  time.Duration       `toml:"poll_interval" doc:"Longest time the job loop sleeps without looking at the jobs table (a safety net: new jobs also wake it)."`
	LeadDefaultTZ string              `toml:"lead_default_tz" doc:"Time zone shown next to UTC in plans when the lead has none."`
}

// ArtifactsConfig describes the project in the machine-readable records.
type ArtifactsConfig struct {
	Vendor       string `toml:"vendor" doc:"Vendor name in CVE records (the project or organisation)."`
	Product      string `toml:"product" doc:"Product name in CVE records when the case names no component."`
	Ecosystem    string `toml:"ecosystem" doc:"OSV ecosystem of the affected package (Go, npm, PyPI, ...)."`
	Package      string `toml:"package" doc:"OSV package name when the case names no component (e.g. a Go module path)."`
	Repo         string `toml:"repo" doc:"Source repository URL, used in CVE records."`
	CNAOrgID     string `toml:"cna_org_id" doc:"UUID of the CVE Numbering Authority that assigned the IDs (CVE record providerMetadata)."`
	CNAShortName string `toml:"cna_short_name" doc:"Short name of that CNA."`
	OSVPrefix    string `toml:"osv_prefix" doc:"ID prefix of OSV records that have neither a GHSA nor a CVE ID (must start with x_ for a local database)."`
	AdvisoryURL  string `toml:"advisory_url" doc:"Base URL where advisories are published; ADVISORY-ID is appended."`
}

// Override changes some values of a policy. Unset fields keep the base's.
type Override struct {
	Base                  string         `toml:"base" doc:"Preset this policy starts from (default: the preset of the same name)."`
	MinNotice             *time.Duration `toml:"min_notice" doc:"See Policy.min_notice."`
	MaxNotice             *time.Duration `toml:"max_notice" doc:"See Policy.max_notice."`
	MinNoticeBusinessDays *int           `toml:"min_notice_business_days" doc:"See Policy.min_notice_business_days."`
	MaxNoticeBusinessDays *int           `toml:"max_notice_business_days" doc:"See Policy.max_notice_business_days."`
	PreReleaseNotice      *time.Duration `toml:"pre_release_notice" doc:"See Policy.pre_release_notice."`
	PreAnnounce           *bool          `toml:"pre_announce" doc:"See Policy.pre_announce."`
	RequireCVE            *bool          `toml:"require_cve" doc:"See Policy.require_cve."`
	OutOfBandFrom         *float64       `toml:"out_of_band_from" doc:"See Policy.out_of_band_from."`
	EvaluationDeadline    *time.Duration `toml:"evaluation_deadline" doc:"See Policy.evaluation_deadline."`
	FixDeadline           *time.Duration `toml:"fix_deadline" doc:"See Policy.fix_deadline."`
	FixDeadlineWhat       *string        `toml:"fix_deadline_what" doc:"See Policy.fix_deadline_what."`
	FixDoneState          *string        `toml:"fix_done_state" doc:"See Policy.fix_done_state."`
	LeadReleases          *bool          `toml:"lead_releases" doc:"See Policy.lead_releases."`
	ReporterConsent       *bool          `toml:"reporter_consent" doc:"See Policy.reporter_consent."`
	ImpactReview          *bool          `toml:"impact_review" doc:"See Policy.impact_review."`
	AnnounceToEmbargo     *bool          `toml:"announce_to_embargo" doc:"See Policy.announce_to_embargo."`
	ReminderLead          *time.Duration `toml:"reminder_lead" doc:"See Policy.reminder_lead."`
	AckReminder           *time.Duration `toml:"ack_reminder" doc:"See Policy.ack_reminder."`
	AckEscalate           *time.Duration `toml:"ack_escalate" doc:"See Policy.ack_escalate."`
	RetrospectiveFrom     *time.Duration `toml:"retrospective_from" doc:"See Policy.retrospective_from."`
	RetrospectiveTo       *time.Duration `toml:"retrospective_to" doc:"See Policy.retrospective_to."`
	SlowBelow             *float64       `toml:"slow_below" doc:"See Policy.slow_below."`
	SemiPublicBelow       *float64       `toml:"semi_public_below" doc:"See Policy.semi_public_below."`
	Holidays              *[]string      `toml:"holidays" doc:"See Policy.holidays."`
	DisclosureTime        *string        `toml:"disclosure_time" doc:"See Policy.disclosure_time."`
	Weekdays              *[]string      `toml:"weekdays" doc:"See Policy.weekdays."`
	Audiences             *[]string      `toml:"audiences" doc:"See Policy.audiences."`
}

// DefaultConfig returns the defaults: the knative policy, lists "embargo"
// and "announce", no artifacts directory.
func DefaultConfig() Config {
	return Config{
		Policy:        "knative",
		EmbargoList:   "embargo",
		PublicLists:   []string{"announce"},
		RetryDelay:    time.Minute,
		MaxAttempts:   8,
		SLAInterval:   time.Hour,
		PollInterval:  time.Minute,
		LeadDefaultTZ: "UTC",
		Artifacts: ArtifactsConfig{
			Vendor:    "N/A",
			Ecosystem: "Go",
			OSVPrefix: "x_SECGATE",
		},
	}
}

// WithDefaults fills the unset fields of c from DefaultConfig.
func (c Config) WithDefaults() Config {
	d := DefaultConfig()
	if c.Policy == "" {
		c.Policy = d.Policy
	}
	if c.EmbargoList == "" {
		c.EmbargoList = d.EmbargoList
	}
	if c.PublicLists == nil {
		c.PublicLists = d.PublicLists
	}
	if c.RetryDelay <= 0 {
		c.RetryDelay = d.RetryDelay
	}
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = d.MaxAttempts
	}
	if c.SLAInterval <= 0 {
		c.SLAInterval = d.SLAInterval
	}
	if c.PollInterval <= 0 {
		c.PollInterval = d.PollInterval
	}
	if c.LeadDefaultTZ == "" {
		c.LeadDefaultTZ = d.LeadDefaultTZ
	}
	if c.Artifacts.Vendor == "" {
		c.Artifacts.Vendor = d.Artifacts.Vendor
	}
	if c.Artifacts.Ecosystem == "" {
		c.Artifacts.Ecosystem = d.Artifacts.Ecosystem
	}
	if c.Artifacts.OSVPrefix == "" {
		c.Artifacts.OSVPrefix = d.Artifacts.OSVPrefix
	}
	return c
}

// Resolve returns every policy the config knows: the presets with their
// overrides applied, and the new policies defined from a base.
func (c Config) Resolve() (map[string]Policy, error) {
	out := map[string]Policy{}
	for _, n := range PresetNames() {
		out[n], _ = Preset(n)
	}
	names := make([]string, 0, len(c.Policies))
	for n := range c.Policies {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		o := c.Policies[n]
		base := o.Base
		if base == "" {
			base = n
		}
		p, err := Preset(base)
		if err != nil {
			return nil, &PolicyConfigError{Name: n, Err: err}
		}
		p.Name = n
		o.apply(&p)
		if err := p.Check(); err != nil {
			return nil, &PolicyConfigError{Name: n, Err: err}
		}
		out[n] = p
	}
	if _, ok := out[c.Policy]; c.Policy != "" && !ok {
		return nil, fmt.Errorf("schedule: default policy: %w %q", ErrUnknownPolicy, c.Policy)
	}
	if strings.TrimSpace(c.Artifacts.OSVPrefix) != "" && !strings.HasPrefix(c.Artifacts.OSVPrefix, "x_") {
		return nil, fmt.Errorf("schedule: artifacts.osv_prefix %q must start with x_", c.Artifacts.OSVPrefix)
	}
	return out, nil
}

// PolicyConfigError is a problem of the policy Name defined under policies: a
// configuration checker points at [schedule.policies.NAME] with it.
type PolicyConfigError struct {
	Name string
	Err  error
}

func (e *PolicyConfigError) Error() string {
	return fmt.Sprintf("schedule: policy %q: %v", e.Name, e.Err)
}
func (e *PolicyConfigError) Unwrap() error { return e.Err }

func (o Override) apply(p *Policy) {
	setD := func(dst *time.Duration, v *time.Duration) {
		if v != nil {
			*dst = *v
		}
	}
	setD(&p.MinNotice, o.MinNotice)
	setD(&p.MaxNotice, o.MaxNotice)
	setD(&p.PreReleaseNotice, o.PreReleaseNotice)
	setD(&p.EvaluationDeadline, o.EvaluationDeadline)
	setD(&p.FixDeadline, o.FixDeadline)
	setD(&p.ReminderLead, o.ReminderLead)
	setD(&p.AckReminder, o.AckReminder)
	setD(&p.AckEscalate, o.AckEscalate)
	setD(&p.RetrospectiveFrom, o.RetrospectiveFrom)
	setD(&p.RetrospectiveTo, o.RetrospectiveTo)
	if o.PreAnnounce != nil {
		p.PreAnnounce = *o.PreAnnounce
	}
	if o.RequireCVE != nil {
		p.RequireCVE = *o.RequireCVE
	}
	if o.OutOfBandFrom != nil {
		p.OutOfBandFrom = *o.OutOfBandFrom
	}
	if o.MinNoticeBusinessDays != nil {
		p.MinNoticeBusinessDays = *o.MinNoticeBusinessDays
	}
	if o.MaxNoticeBusinessDays != nil {
		p.MaxNoticeBusinessDays = *o.MaxNoticeBusinessDays
	}
	if o.FixDeadlineWhat != nil {
		p.FixDeadlineWhat = *o.FixDeadlineWhat
	}
	if o.FixDoneState != nil {
		p.FixDoneState = *o.FixDoneState
	}
	if o.LeadReleases != nil {
		p.LeadReleases = *o.LeadReleases
	}
	if o.ImpactReview != nil {
		p.ImpactReview = *o.ImpactReview
	}
	if o.ReporterConsent != nil {
		p.ReporterConsent = *o.ReporterConsent
	}
	if o.AnnounceToEmbargo != nil {
		p.AnnounceToEmbargo = *o.AnnounceToEmbargo
	}
	if o.SlowBelow != nil {
		p.SlowBelow = *o.SlowBelow
	}
	if o.SemiPublicBelow != nil {
		p.SemiPublicBelow = *o.SemiPublicBelow
	}
	if o.Holidays != nil {
		p.Holidays = append([]string(nil), *o.Holidays...)
	}
	if o.DisclosureTime != nil {
		p.DisclosureTime = *o.DisclosureTime
	}
	if o.Weekdays != nil {
		p.Weekdays = append([]string(nil), *o.Weekdays...)
	}
	if o.Audiences != nil {
		p.Audiences = append([]string(nil), *o.Audiences...)
	}
}

// Validate reports the first problem of a defaulted Config: an unknown or
// inconsistent policy, a bad OSV prefix or CNA organisation ID, durations
// that are not positive.
func (c Config) Validate() error {
	if _, err := c.Resolve(); err != nil {
		return err
	}
	if c.EmbargoList == "" {
		return fmt.Errorf("schedule: embargo_list is empty")
	}
	if c.RetryDelay <= 0 || c.SLAInterval <= 0 || c.PollInterval <= 0 || c.MaxAttempts <= 0 {
		return fmt.Errorf("schedule: retry_delay, sla_interval, poll_interval and max_attempts must be positive")
	}
	if c.Artifacts.CNAOrgID != "" && !uuidRE.MatchString(c.Artifacts.CNAOrgID) {
		return fmt.Errorf("schedule: artifacts.cna_org_id %q is not a UUID", c.Artifacts.CNAOrgID)
	}
	if c.LeadDefaultTZ != "" {
		if _, err := time.LoadLocation(c.LeadDefaultTZ); err != nil {
			return fmt.Errorf("schedule: lead_default_tz: %w", err)
		}
	}
	return nil
}
