package schedule

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/BurntSushi/toml"
)

func utc(s string) time.Time {
	t, err := time.Parse("2006-01-02 15:04", s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestPresetsCheck(t *testing.T) {
	for _, n := range PresetNames() {
		p, err := Preset(n)
		if err != nil {
			t.Fatal(err)
		}
		if err := p.Check(); err != nil {
			t.Errorf("%s: %v", n, err)
		}
	}
	if _, err := Preset("nope"); !errors.Is(err, ErrUnknownPolicy) {
		t.Errorf("Preset(nope) = %v", err)
	}
}

func TestBusinessDays(t *testing.T) {
	p, _ := Preset("kata")
	tests := []struct {
		from, to string
		want     int
	}{
		{"2026-12-03 10:00", "2026-12-09 00:00", 3}, // Thu -> Wed 0000: Fri, Mon, Tue
		{"2026-12-03 10:00", "2026-12-08 00:00", 2}, // Thu -> Tue 0000: Fri, Mon
		{"2026-12-03 00:00", "2026-12-04 00:00", 1}, // Thu 0000 -> Fri 0000: Thu
		{"2026-12-05 12:00", "2026-12-07 00:00", 0}, // weekend
		{"2026-12-03 10:00", "2026-12-11 00:00", 5}, // Thu -> next Fri 0000
	}
	for _, tc := range tests {
		if got := p.BusinessDays(utc(tc.from), utc(tc.to)); got != tc.want {
			t.Errorf("BusinessDays(%s, %s) = %d, want %d", tc.from, tc.to, got, tc.want)
		}
	}
	p.Holidays = []string{"2026-12-07"}
	if got := p.BusinessDays(utc("2026-12-03 10:00"), utc("2026-12-09 00:00")); got != 2 {
		t.Errorf("with a Monday holiday: %d, want 2", got)
	}
}

func TestViolations(t *testing.T) {
	kn, _ := Preset("knative")
	ka, _ := Preset("kata")
	ke, _ := Preset("kubeedge")
	now := utc("2026-12-03 10:00") // a Thursday
	tests := []struct {
		name string
		p    Policy
		t0   string
		want []string // substrings, one per violation; nil: none
	}{
		{"knative 3 weeks", kn, "2026-12-24 10:00", nil},
		{"knative 20 days", kn, "2026-12-23 10:00", []string{"at least 21 days"}},
		{"knative 5 weeks", kn, "2027-01-07 10:00", []string{"at most 28 days"}},
		{"kata wed 0000", ka, "2026-12-09 00:00", nil},
		{"kata tue too soon", ka, "2026-12-08 00:00", []string{"at least 3 business days"}},
		{"kata wrong hour", ka, "2026-12-09 16:00", []string{"at 00:00 UTC"}},
		{"kata friday", ka, "2026-12-11 00:00", []string{"Friday"}},
		{"kata monday", ka, "2026-12-14 00:00", []string{"at most 5 business days", "Monday"}},
		{"kubeedge 7 days", ke, "2026-12-10 10:00", nil},
		{"kubeedge 6 days", ke, "2026-12-09 10:00", []string{"at least 7 days"}},
	}
	for _, tc := range tests {
		v := tc.p.Violations(now, utc(tc.t0))
		if len(v) != len(tc.want) {
			t.Errorf("%s: violations %q, want %d", tc.name, v, len(tc.want))
			continue
		}
		for i, w := range tc.want {
			if !strings.Contains(v[i], w) {
				t.Errorf("%s: violation %q does not mention %q", tc.name, v[i], w)
			}
		}
	}
	kh := ka
	kh.Holidays = []string{"2026-12-09"}
	if v := kh.Violations(now, utc("2026-12-09 00:00")); len(v) == 0 || !strings.Contains(strings.Join(v, ";"), "holiday") {
		t.Errorf("holiday disclosure allowed: %q", v)
	}
}

func TestConfigOverride(t *testing.T) {
	var c Config
	_, err := toml.Decode(`
policy = "ours"
[policies.knative]
pre_release_notice = "0s"
holidays = ["2026-12-25"]
[policies.ours]
base = "kubeedge"
min_notice = "240h"
`, &c)
	if err != nil {
		t.Fatal(err)
	}
	ps, err := c.WithDefaults().Resolve()
	if err != nil {
		t.Fatal(err)
	}
	if ps["knative"].PreReleaseNotice != 0 || ps["knative"].MinNotice != 21*Day || len(ps["knative"].Holidays) != 1 {
		t.Errorf("knative override: %+v", ps["knative"])
	}
	if ps["ours"].MinNotice != 10*Day || ps["ours"].MaxNotice != 28*Day || ps["ours"].Name != "ours" {
		t.Errorf("ours: %+v", ps["ours"])
	}
	if ps["kata"].MinNoticeBusinessDays != 3 {
		t.Errorf("kata changed: %+v", ps["kata"])
	}
	bad := []string{
		"[policies.x]\nbase = \"nope\"\n",
		"[policies.knative]\nmax_notice = \"24h\"\n",
		"[policies.kata]\nweekdays = [\"Funday\"]\n",
		"[policies.kata]\ndisclosure_time = \"25:00\"\n",
		"policy = \"missing\"\n",
		"[artifacts]\ncna_org_id = \"not-a-uuid\"\n",
		"[artifacts]\nosv_prefix = \"LOCAL\"\n",
		"lead_default_tz = \"Mars/Olympus\"\n",
		"[policies.knative]\naudiences = [\"embargo\", \"embargo\"]\n",
		"[policies.knative]\naudiences = [\"\"]\n",
	}
	for _, src := range bad {
		var c Config
		if _, err := toml.Decode(src, &c); err != nil {
			t.Fatal(err)
		}
		if err := c.WithDefaults().Validate(); err == nil {
			t.Errorf("accepted %q", src)
		}
	}
}

func TestPlan(t *testing.T) {
	kn, _ := Preset("knative")
	now := utc("2026-11-20 09:30")
	tl, err := kn.Plan(now, utc("2026-12-15 16:00"), time.Time{}, "", PlanInfo{Received: utc("2026-11-10 08:00"), CVSSScore: 3.1})
	if err != nil {
		t.Fatal(err)
	}
	if !tl.Notice.Equal(now) || !tl.PreRelease.Equal(utc("2026-12-14 16:00")) ||
		!tl.RetroFrom.Equal(utc("2026-12-16 16:00")) || !tl.RetroTo.Equal(utc("2026-12-18 16:00")) {
		t.Errorf("timeline %+v", tl)
	}
	if w := strings.Join(tl.Warnings, ";"); !strings.Contains(w, "below 4.0") || !strings.Contains(w, "release the fix") {
		t.Errorf("warnings %q", tl.Warnings)
	}
	// Past.
	if _, err := kn.Plan(now, now.Add(-time.Minute), time.Time{}, "force it", PlanInfo{}); !errors.Is(err, ErrPast) {
		t.Errorf("past: %v", err)
	}
	// Inside the minimum notice: refused, then forced.
	_, err = kn.Plan(now, now.Add(10*Day), time.Time{}, "", PlanInfo{})
	var pe *PolicyError
	if !errors.As(err, &pe) || !errors.Is(err, ErrPolicy) {
		t.Fatalf("min notice: %v", err)
	}
	tl, err = kn.Plan(now, now.Add(10*Day), time.Time{}, "exploit in the wild", PlanInfo{})
	if err != nil || tl.Forced != "exploit in the wild" || len(tl.Overridden) != 1 {
		t.Errorf("forced: %+v %v", tl, err)
	}
	// Far away: the notice waits until the maximum notice.
	tl, err = kn.Plan(now, now.Add(40*Day), time.Time{}, "", PlanInfo{})
	if err != nil || !tl.Notice.Equal(now.Add(12*Day)) {
		t.Errorf("deferred notice: %+v %v", tl, err)
	}
	// Re-plan after the notice: measured from when it went out.
	sent := now.Add(-5 * Day)
	if _, err := kn.Plan(now, sent.Add(20*Day), sent, "", PlanInfo{}); !errors.Is(err, ErrPolicy) {
		t.Errorf("re-plan earlier than the minimum from the sent notice: %v", err)
	}
	tl, err = kn.Plan(now, sent.Add(25*Day), sent, "", PlanInfo{})
	if err != nil || !tl.Notified || !tl.Notice.Equal(sent) {
		t.Errorf("re-plan: %+v %v", tl, err)
	}
	// Kata far away: notice deferred to within 5 business days.
	ka, _ := Preset("kata")
	tl, err = ka.Plan(utc("2026-12-01 10:00"), utc("2026-12-16 00:00"), time.Time{}, "", PlanInfo{})
	if err != nil || ka.BusinessDays(tl.Notice, tl.T0) != 5 || !tl.Notice.Equal(utc("2026-12-09 00:00")) {
		t.Errorf("kata deferred: %+v %v (%d business days)", tl, err, ka.BusinessDays(tl.Notice, tl.T0))
	}
	txt := tl.Text("SEC-2026-0001", "America/New_York", utc("2026-12-01 10:00"))
	for _, w := range []string{"2026-12-16 00:00 UTC", "2026-12-15 19:00 EST", "America/New_York", "pre-release notice"} {
		if !strings.Contains(txt, w) {
			t.Errorf("plan text lacks %q:\n%s", w, txt)
		}
	}
}

// TestPoliciesDocListsEveryKey: the documentation of [schedule] policies
// names every key an override may set, so that it cannot go stale.
func TestPoliciesDocListsEveryKey(t *testing.T) {
	f, _ := reflect.TypeOf(Config{}).FieldByName("Policies")
	doc := f.Tag.Get("doc")
	ot := reflect.TypeOf(Override{})
	for i := 0; i < ot.NumField(); i++ {
		key, _, _ := strings.Cut(ot.Field(i).Tag.Get("toml"), ",")
		if !strings.Contains(doc, key) {
			t.Errorf("the doc of policies does not name %s", key)
		}
	}
	pt := reflect.TypeOf(Policy{})
	for i := 0; i < pt.NumField(); i++ {
		if !pt.Field(i).IsExported() {
			continue // not a key
		}
		key, _, _ := strings.Cut(pt.Field(i).Tag.Get("toml"), ",")
		if _, ok := ot.FieldByNameFunc(func(n string) bool { return n == pt.Field(i).Name }); !ok && key != "name" {
			t.Errorf("policy key %s cannot be overridden", key)
		}
	}
}
