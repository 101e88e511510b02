package distlist

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/secgate/secgate/distlist/smtpsink"
)

// TestSyncRules: the rules of a configured list reach List through the
// database; a list whose configuration drops them has none; a list
// deleted from the configuration takes its rules with it.
func TestSyncRules(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, smtpsink.Options{}, nil)
	off := false
	distros := ListConfig{Name: "distros", Kind: KindEmbargo, MaxEmbargo: 14 * 24 * time.Hour, NoticeBefore: 7 * 24 * time.Hour,
		PreReleaseNotice: &off, RequireCVE: true, SubjectTag: " [vs] "}
	cfg := Config{Lists: []ListConfig{{Name: "embargo", Kind: KindEmbargo}, distros}}
	if _, err := e.dir.Sync(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	want := Rules{MaxEmbargo: 14 * 24 * time.Hour, NoticeBefore: 7 * 24 * time.Hour, NoPreRelease: true, RequireCVE: true, SubjectTag: "[vs]"}
	for name, r := range map[string]Rules{"distros": want, "embargo": {}} {
		l, err := e.dir.List(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		if l.Rules != r {
			t.Errorf("%s: rules %+v, want %+v", name, l.Rules, r)
		}
	}
	cfg.Lists[1] = ListConfig{Name: "distros", Kind: KindEmbargo}
	if _, err := e.dir.Sync(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	if l, err := e.dir.List(ctx, "distros"); err != nil || !l.Rules.IsZero() {
		t.Errorf("rules dropped from the configuration: %+v %v", l, err)
	}
	cfg.Lists = cfg.Lists[:1]
	if _, err := e.dir.Sync(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := e.db.Reader().QueryRowContext(ctx, `SELECT count(*) FROM dir_list_rules`).Scan(&n); err != nil || n != 0 {
		t.Errorf("%d rules left after the list went (%v)", n, err)
	}
}

// TestRuleProblems names the key at fault for each mistake.
func TestRuleProblems(t *testing.T) {
	for _, tc := range []struct {
		lc   ListConfig
		want string
	}{
		{ListConfig{Name: "d", Kind: KindEmbargo, MaxEmbargo: time.Hour, NoticeBefore: 2 * time.Hour}, "notice_before: 2h0m0s is longer than max_embargo"},
		{ListConfig{Name: "d", Kind: KindEmbargo, MaxEmbargo: -time.Hour}, "max_embargo: must not be negative"},
		{ListConfig{Name: "d", Kind: KindEmbargo, SubjectTag: strings.Repeat("x", 33)}, "subject_tag: "},
		{ListConfig{Name: "d", Kind: KindEmbargo, SubjectTag: "[vs]\r\nBcc: x@evil.example"}, "no control characters"},
		{ListConfig{Name: "d", Kind: KindPublic, RequireCVE: true}, "kind: max_embargo"},
		{ListConfig{Name: "d", Kind: KindEmbargo, MaxEmbargo: time.Hour, NoticeBefore: time.Hour, SubjectTag: "[vs]"}, ""},
	} {
		err := tc.lc.CheckRules()
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%+v: %v, want %q", tc.lc, err, tc.want)
		}
	}
}
