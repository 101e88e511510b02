package cases

import (
	"strings"
	"testing"

	"github.com/secgate/secgate/templates"
)

func TestFormatRef(t *testing.T) {
	for _, tt := range []struct {
		prefix    string
		year, seq int
		want      string
	}{
		{"SEC", 2026, 1, "SEC-2026-0001"},
		{"KN", 2026, 1, "KN-2026-0001"},
		{"KATA", 2026, 42, "KATA-2026-0042"},
		{"KN", 2027, 10000, "KN-2027-10000"},
	} {
		if got := FormatRef(tt.prefix, tt.year, tt.seq); got != tt.want {
			t.Errorf("FormatRef(%q, %d, %d) = %q, want %q", tt.prefix, tt.year, tt.seq, got, tt.want)
		}
		r, err := NewRefs(tt.prefix)
		if err != nil {
			t.Fatal(err)
		}
		if got := r.Format(tt.year, tt.seq); got != tt.want || !r.Match(got) {
			t.Errorf("Refs(%s).Format = %q (matches: %v), want %q, matching", tt.prefix, got, r.Match(got), tt.want)
		}
	}
	if got := (Refs{}).Format(2026, 7); got != "SEC-2026-0007" {
		t.Errorf("the zero Refs format %q, want SEC-2026-0007", got)
	}
}

func TestCheckPrefix(t *testing.T) {
	for _, tt := range []struct {
		prefix string
		ok     bool
	}{
		{"SEC", true}, {"KN", true}, {"KATA", true}, {"K8S", true}, {"ABCDEFGHIJ", true},
		{"", false}, {"K", false}, {"ABCDEFGHIJK", false}, {"kn", false}, {"Kn", false},
		{"8KN", false}, {"K-N", false}, {"K N", false}, {"KÑ", false}, {"KN\n", false}, {"CVE", false},
	} {
		err := CheckPrefix(tt.prefix)
		if (err == nil) != tt.ok {
			t.Errorf("CheckPrefix(%q) = %v, want ok %v", tt.prefix, err, tt.ok)
		}
		if _, nerr := NewRefs(tt.prefix); tt.prefix != "" && (nerr == nil) != tt.ok {
			t.Errorf("NewRefs(%q) = %v, want ok %v", tt.prefix, nerr, tt.ok)
		}
	}
	if r, err := NewRefs(""); err != nil || r.Prefix() != DefaultPrefix {
		t.Errorf(`NewRefs("") = %q, %v; want the default %s`, r.Prefix(), err, DefaultPrefix)
	}
}

// TestRefsPatterns: a workflow's /case argument and subject tag are its
// own prefix's and those of the cases its database already holds, whole;
// any other prefix, a CVE ID or a near miss is no case of this project.
func TestRefsPatterns(t *testing.T) {
	kn, err := NewRefs("KN")
	if err != nil {
		t.Fatal(err)
	}
	upgraded, err := NewRefs("KN", "SEC", "KN", "SEC")
	if err != nil {
		t.Fatal(err)
	}
	if got := upgraded.Older(); len(got) != 1 || got[0] != "SEC" {
		t.Errorf("older prefixes %q, want [SEC]", got)
	}
	for _, tt := range []struct {
		name string
		r    Refs
		ref  string
		want bool
	}{
		{"own", kn, "KN-2026-0001", true},
		{"own, five digits", kn, "KN-2026-12345", true},
		{"another project's", kn, "KATA-2026-0001", false},
		{"the default's", kn, "SEC-2026-0001", false},
		{"a longer prefix ending in the own", kn, "XKN-2026-0001", false},
		{"the own prefix extended", kn, "KNX-2026-0001", false},
		{"three digits", kn, "KN-2026-001", false},
		{"short year", kn, "KN-26-0001", false},
		{"lower case", kn, "kn-2026-0001", false},
		{"trailing text", kn, "KN-2026-0001x", false},
		{"leading text", kn, " KN-2026-0001", false},
		{"older prefix in the database", upgraded, "SEC-2026-0001", true},
		{"own after an upgrade", upgraded, "KN-2026-0001", true},
		{"another prefix after an upgrade", upgraded, "KATA-2026-0001", false},
		{"zero Refs: SEC", Refs{}, "SEC-2026-0001", true},
		{"zero Refs: not KN", Refs{}, "KN-2026-0001", false},
	} {
		if got := tt.r.Match(tt.ref); got != tt.want {
			t.Errorf("%s: Match(%q) = %v, want %v", tt.name, tt.ref, got, tt.want)
		}
	}
	for _, tt := range []struct {
		name, subject string
		r             Refs
		want          string
	}{
		{"own", "Re: [KN-2026-0001] Webhook leak", kn, "KN-2026-0001"},
		{"own after a CVE tag", "[CVE-2026-12345] Re: [KN-2026-0002] x", kn, "KN-2026-0002"},
		{"own after another project's", "[KATA-2026-0001] [KN-2026-0003]", kn, "KN-2026-0003"},
		{"another project's alone", "Re: [KATA-2026-0001] x", kn, ""},
		{"the default's alone", "Re: [SEC-2026-0001] x", kn, ""},
		{"an advisory of the own shape", "[KNX-2026-0001] x", kn, ""},
		{"not bracketed", "Re: KN-2026-0001 x", kn, ""},
		{"lower case", "Re: [kn-2026-0001]", kn, ""},
		{"older prefix in the database", "Re: [SEC-2026-0001] x", upgraded, "SEC-2026-0001"},
		{"first of own and older", "[KN-2026-0004] [SEC-2026-0001]", upgraded, "KN-2026-0004"},
		{"zero Refs", "Re: [SEC-2026-0007]", Refs{}, "SEC-2026-0007"},
	} {
		if got := tt.r.Tag(tt.subject); got != tt.want {
			t.Errorf("%s: Tag(%q) = %q, want %q", tt.name, tt.subject, got, tt.want)
		}
	}
}

// TestParseCaseLinePrefix: a /case line names a reference of the parser's
// Refs; one of another prefix is refused naming this project's form, one
// of no reference's shape with the usage.
func TestParseCaseLinePrefix(t *testing.T) {
	kn, err := NewRefs("KN", "SEC")
	if err != nil {
		t.Fatal(err)
	}
	p := Parser{Refs: kn}
	for _, tt := range []struct {
		text, ref, bad string
	}{
		{text: "/case KN-2026-0001\n/status confirmed", ref: "KN-2026-0001"},
		{text: "/case kn-2026-0001", ref: "KN-2026-0001"},
		{text: "/case SEC-2026-0001", ref: "SEC-2026-0001"},
		{text: "/case KATA-2026-0001", bad: "KATA-2026-0001 is not a case of this project: its cases are KN-YYYY-NNNN"},
		{text: "/case KN-2026-1", bad: "usage: /case KN-YYYY-NNNN"},
		{text: "/case", bad: "usage: /case KN-YYYY-NNNN"},
		{text: "/case KN-2026-0001 KN-2026-0002", bad: "usage: /case KN-YYYY-NNNN"},
	} {
		got, err := p.Parse(tt.text)
		switch {
		case tt.bad == "" && err != nil:
			t.Errorf("%q: %v", tt.text, err)
		case tt.bad == "" && got.Case != tt.ref:
			t.Errorf("%q names %q, want %q", tt.text, got.Case, tt.ref)
		case tt.bad != "" && (err == nil || !strings.Contains(err.Error(), tt.bad)):
			t.Errorf("%q: err = %v, want one saying %q", tt.text, err, tt.bad)
		}
	}
}

// withPrefix replaces e's workflow by one whose project prefixes its case
// references with prefix, on the same database.
func (e *env) withPrefix(prefix string) *Workflow {
	e.t.Helper()
	set, err := templates.Load("")
	if err != nil {
		e.t.Fatal(err)
	}
	e.wf, err = New(Options{DB: e.db, Directory: e.dir, Outbox: e.ob, Templates: set, TeamKey: e.team, TeamAddress: teamAddr,
		Project: templates.Project{Name: "Example", TeamAddress: teamAddr, CasePrefix: prefix}, Scheduler: e.sched, Clock: e.clock})
	if err != nil {
		e.t.Fatalf("New with prefix %s: %v", prefix, err)
	}
	return e.wf
}

// TestWorkflowCasePrefix: a workflow whose project's prefix is KN opens
// KN-2026-0001, takes "/case KN-2026-0001" and the [KN-2026-0001] tag, and
// refuses "/case SEC-2026-0001", which is not a case of this project,
// naming its prefix; /help and the refusal of a mail naming no case show
// the KN form.
func TestWorkflowCasePrefix(t *testing.T) {
	e := newEnv(t)
	e.withPrefix("KN")
	c := e.open(true)
	if c.Ref != "KN-2026-0001" {
		t.Fatalf("first case %s, want KN-2026-0001", c.Ref)
	}
	if got, err := e.wf.Get(e.ctx, "KN-2026-0001"); err != nil || got.ID != c.ID {
		t.Fatalf("Get(KN-2026-0001) = %v, %v", got, err)
	}
	alice := e.keys["alice@example.org"]

	e.handle(e.signed("alice@example.org", alice, "hello", "/case KN-2026-0001\n/status confirmed", t0))
	if got := e.get(c.ID); got.State != StateConfirmed {
		t.Fatalf("after /case KN-2026-0001 /status confirmed: state %s (%q)", got.State, e.audit(GatewayLog))
	}
	e.handle(e.signed("alice@example.org", alice, "Re: [KN-2026-0001] Webhook", "/class B1", t0))
	if got := e.get(c.ID); got.Class != "B1" {
		t.Fatalf("after /class B1 under the [KN-2026-0001] tag: class %q (%q)", got.Class, e.audit(GatewayLog))
	}

	m := e.signed("alice@example.org", alice, "hello", "/case SEC-2026-0001\n/status triaged", t0)
	refusalCheck(t, e, c, m, "SEC-2026-0001 is not a case of this project: its cases are KN-YYYY-NNNN", "alice@example.org", true)
	m = e.signed("alice@example.org", alice, "Re: [SEC-2026-0001] Webhook", "/status triaged", t0)
	refusalCheck(t, e, c, m, `keep the [KN-YYYY-NNNN] tag in the Subject with a client that signs the Subject (Thunderbird, Mutt), or add a line "/case KN-YYYY-NNNN"`, "alice@example.org", true)

	e.handle(e.signed("alice@example.org", alice, "hello", "/help", t0))
	lastContains(t, "help", e.mailsTo("alice@example.org", MailAnswer), "/case KN-YYYY-NNNN\n")
}

// TestCasePrefixNumbering: two projects' workflows on their own databases
// number their cases each from 0001, whatever the other opened.
func TestCasePrefixNumbering(t *testing.T) {
	kn, kata := newEnv(t), newEnv(t)
	kn.withPrefix("KN")
	kata.withPrefix("KATA")
	var got []string
	for _, e := range []*env{kn, kn, kata, kn, kata} {
		got = append(got, e.open(false).Ref)
	}
	want := []string{"KN-2026-0001", "KN-2026-0002", "KATA-2026-0001", "KN-2026-0003", "KATA-2026-0002"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("references %q, want %q", got, want)
	}
	if n := kn.count(`SELECT count(*) FROM cases WHERE prefix != 'KN'`); n != 0 {
		t.Errorf("Knative's database holds %d cases of another prefix", n)
	}
}

// TestCasePrefixUpgrade: a database holding SEC cases, opened by a
// workflow whose project's prefix is now KN, numbers KN from 0001 in the
// same year; the SEC cases keep their references and are still named by
// /case lines and subject tags, while a prefix the database never held is
// still no case of this project.
func TestCasePrefixUpgrade(t *testing.T) {
	e := newEnv(t)
	sec1, sec2 := e.open(false), e.open(false)
	if sec1.Ref != "SEC-2026-0001" || sec2.Ref != "SEC-2026-0002" {
		t.Fatalf("before the change: %s, %s", sec1.Ref, sec2.Ref)
	}
	e.withPrefix("KN")
	kn := e.open(false)
	if kn.Ref != "KN-2026-0001" {
		t.Fatalf("first case after the change %s, want KN-2026-0001", kn.Ref)
	}
	if next := e.open(false); next.Ref != "KN-2026-0002" {
		t.Errorf("second case after the change %s, want KN-2026-0002", next.Ref)
	}
	for _, c := range []*Case{sec1, sec2} {
		if got, err := e.wf.Get(e.ctx, c.Ref); err != nil || got.ID != c.ID {
			t.Errorf("Get(%s) after the change: %v, %v", c.Ref, got, err)
		}
	}
	alice := e.keys["alice@example.org"]
	e.handle(e.signed("alice@example.org", alice, "hello", "/case SEC-2026-0001\n/status confirmed", t0))
	if got := e.get(sec1.ID); got.State != StateConfirmed {
		t.Errorf("/case SEC-2026-0001 after the change: state %s (%q)", got.State, e.audit(GatewayLog))
	}
	e.handle(e.signed("alice@example.org", alice, "Re: [SEC-2026-0002] x", "/class B2", t0))
	if got := e.get(sec2.ID); got.Class != "B2" {
		t.Errorf("[SEC-2026-0002] tag after the change: class %q (%q)", got.Class, e.audit(GatewayLog))
	}
	m := e.signed("alice@example.org", alice, "hello", "/case SEC-2026-0099\n/status confirmed", t0)
	refusalCheck(t, e, kn, m, "SEC-2026-0099 does not exist", "alice@example.org", true)
	m = e.signed("alice@example.org", alice, "hello", "/case KATA-2026-0001\n/status confirmed", t0)
	refusalCheck(t, e, kn, m, "KATA-2026-0001 is not a case of this project: its cases are KN-YYYY-NNNN", "alice@example.org", true)

	// Back to SEC: the SEC numbers go on, KN's stay addressable.
	e.withPrefix("SEC")
	if c := e.open(false); c.Ref != "SEC-2026-0003" {
		t.Errorf("back to SEC: %s, want SEC-2026-0003", c.Ref)
	}
	e.handle(e.signed("alice@example.org", alice, "Re: [KN-2026-0001] x", "/class B3", t0))
	if got := e.get(kn.ID); got.Class != "B3" {
		t.Errorf("[KN-2026-0001] tag back under SEC: class %q (%q)", got.Class, e.audit(GatewayLog))
	}
}
