package web

import (
	"context"
	"time"

	"github.com/secgate/secgate/cases"
	"github.com/secgate/secgate/distlist"
	"github.com/secgate/secgate/intake"
	"github.com/secgate/secgate/schedule"
)

// fake is a project's readers over data held in memory.
type fake struct {
	cases   []*cases.Case
	steps   map[int64][]schedule.Step
	team    []distlist.Member
	lists   map[string]*distlist.List
	keys    []distlist.KeyStatus
	rows    []distlist.Row
	held    []intake.Inbound
	audit   *cases.AuditCheck
	acks    []Ack
	through time.Time // the date CheckKeys was last asked about
}

var testNow = time.Date(2030, 3, 1, 12, 0, 0, 0, time.UTC)

// newFake has two cases: SEC-2030-0001, planned (T0 on 20 March) with an
// embargo notice sent to a list recipient and the reporter, and
// SEC-2030-0002, new and awaiting evaluation, led by Bob.
func newFake() *fake {
	f := &fake{steps: map[int64][]schedule.Step{}, lists: map[string]*distlist.List{}, audit: &cases.AuditCheck{}}
	f.team = []distlist.Member{{Name: "Alice", Address: "alice@example.org", Fingerprint: "AAAA"}, {Name: "Bob", Address: "bob@example.org", Fingerprint: "BBBB"}}
	f.lists["embargo"] = &distlist.List{Name: "embargo", Recipients: []distlist.Recipient{{Address: "dana@distro.example"}}}
	t0 := time.Date(2030, 3, 20, 14, 0, 0, 0, time.UTC)
	f.cases = []*cases.Case{
		{ID: 1, Ref: "SEC-2030-0001", State: cases.StateTriaged, Severity: "HIGH", CVSSScore: 8.1, Lead: "AAAA", Policy: "knative",
			Received: time.Date(2030, 2, 1, 9, 0, 0, 0, time.UTC), DiscloseAt: t0, ReporterAddr: "rita@reporter.example",
			Details: cases.Details{Title: "TITLE-TEXT"}, Impact: "IMPACT-TEXT"},
		{ID: 2, Ref: "SEC-2030-0002", State: cases.StateNew, Lead: "BBBB", Policy: "knative", Received: time.Date(2030, 2, 28, 9, 0, 0, 0, time.UTC)},
	}
	sent := time.Date(2030, 2, 10, 9, 0, 5, 0, time.UTC)
	f.steps[1] = []schedule.Step{
		{Job: 11, Kind: schedule.JobEmbargoNotice, What: "embargo notice", Audience: []string{"embargo"}, Due: time.Date(2030, 2, 10, 9, 0, 0, 0, time.UTC),
			State: schedule.StepDone, Finished: sent, Mail: []schedule.StepMail{
				{Delivery: distlist.Delivery{Row: distlist.Row{ID: 5, NoticeID: "n-1", Recipient: "dana@distro.example", State: "sent"}, Outcome: "sent", Sent: sent}, Audience: "embargo"},
				{Delivery: distlist.Delivery{Row: distlist.Row{ID: 6, NoticeID: "n-1", Recipient: "rita@reporter.example", State: "sent"}, Outcome: "sent", Sent: sent}, Audience: "reporter"},
			}},
		{Job: 12, Kind: schedule.JobAnnouncement, What: "announcement (T0)", Audience: []string{"announce"}, Due: t0, State: schedule.StepPlanned},
		{Job: 13, Kind: schedule.JobRetrospective, What: "retrospective reminder (window opens)", Audience: []string{"lead"}, Due: t0.Add(24 * time.Hour), State: schedule.StepPlanned},
	}
	f.rows = []distlist.Row{
		{ID: 5, Kind: "embargo-notice", CaseID: 1, Recipient: "dana@distro.example", State: "sent", Created: sent},
		{ID: 6, Kind: "embargo-notice", CaseID: 1, Recipient: "rita@reporter.example", State: "sent", Created: sent},
		{ID: 7, Kind: "reply", CaseID: 2, Recipient: "someone@else.example", State: "deferred", Created: sent, LastCode: 451},
	}
	f.held = []intake.Inbound{{ID: 3, Sender: "mallory@evil.example", Received: sent, Size: 1234, State: "quarantined", Reason: "rate limit: more than 30 messages from mallory@evil.example within 1h0m0s"}}
	f.keys = []distlist.KeyStatus{
		{KeyInfo: distlist.KeyInfo{Fingerprint: "FFFF0001", Expires: time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC)}, Holders: []string{"member alice@example.org"}},
		{KeyInfo: distlist.KeyInfo{Fingerprint: "FFFF0002", Expires: time.Date(2030, 3, 15, 0, 0, 0, 0, time.UTC)}, Holders: []string{"list embargo: dana@distro.example", "case 1: carol@extra.example"}},
	}
	return f
}

func (f *fake) project(name string) Project {
	return Project{Name: name, Team: "security@example.org", Cases: fakeCases{f}, Timeline: f, Directory: fakeDir{f}, Outbox: f, Quarantine: quarantine{f}, Audit: f, Acks: f}
}

// fakeCases is f's CaseReader.
type fakeCases struct{ f *fake }

func (fc fakeCases) List(ctx context.Context, o cases.ListOptions) ([]*cases.Case, error) {
	var out []*cases.Case
	for _, c := range fc.f.cases {
		if !o.Open || !c.Terminal() {
			out = append(out, c)
		}
	}
	return out, nil
}

func (fc fakeCases) Get(ctx context.Context, ref string) (*cases.Case, error) {
	for _, c := range fc.f.cases {
		if c.Ref == ref {
			return c, nil
		}
	}
	return nil, cases.ErrNotFound
}

func (f *fake) Steps(ctx context.Context, c *cases.Case) ([]schedule.Step, error) {
	return f.steps[c.ID], nil
}

func (f *fake) CurrentPlan(ctx context.Context, id int64) (schedule.Timeline, time.Time, bool, error) {
	for _, c := range f.cases {
		if c.ID == id && !c.DiscloseAt.IsZero() {
			return schedule.Timeline{Policy: c.Policy, T0: c.DiscloseAt}, time.Time{}, true, nil
		}
	}
	return schedule.Timeline{}, time.Time{}, false, nil
}

func (f *fake) Deadlines(policy string, received time.Time) (time.Time, time.Time) {
	return received.Add(7 * 24 * time.Hour), time.Time{}
}

// fakeDir is f's DirectoryReader.
type fakeDir struct{ f *fake }

func (d fakeDir) Team(ctx context.Context) ([]distlist.Member, error) { return d.f.team, nil }

func (d fakeDir) Lists(ctx context.Context) ([]distlist.ListInfo, error) {
	var out []distlist.ListInfo
	for n := range d.f.lists {
		out = append(out, distlist.ListInfo{Name: n})
	}
	return out, nil
}

func (d fakeDir) List(ctx context.Context, name string) (*distlist.List, error) {
	return d.f.lists[name], nil
}

func (d fakeDir) CheckKeys(ctx context.Context, until time.Time) ([]distlist.KeyStatus, error) {
	d.f.through = until
	return d.f.keys, nil
}

func (f *fake) Rows(ctx context.Context, flt distlist.RowFilter) ([]distlist.Row, error) {
	var out []distlist.Row
	for _, r := range f.rows {
		if flt.State == "" || r.State == flt.State {
			out = append(out, r)
		}
	}
	return out, nil
}

func (f *fake) VerifyCaseAudit(ctx context.Context, caseID int64) (*cases.AuditCheck, error) {
	return f.audit, nil
}

func (f *fake) Acks(ctx context.Context, caseID int64) ([]Ack, error) {
	if caseID == 1 {
		return f.acks, nil
	}
	return nil, nil
}

// quarantine is f's QuarantineReader (List is taken by the cases).
type quarantine struct{ f *fake }

func (q quarantine) List(ctx context.Context) ([]intake.Inbound, error) { return q.f.held, nil }
