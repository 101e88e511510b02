package main

import (
	"errors"
	"os"
	"strings"
	"testing"
)

// TestListRulesConfig: the rules of a [[distlist.list]] load, and each
// mistake is reported at its own key's line in its own list.
func TestListRulesConfig(t *testing.T) {
	_, cfgPath, _ := initDir(t)
	base, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	lists := `
[[distlist.list]]
name = "embargo"
kind = "embargo"
[[distlist.list]]
name = "distros"
kind = "embargo"
max_embargo = "336h"
notice_before = "168h"
pre_release_notice = false
require_cve = true
subject_tag = "[vs]"
[[distlist.list]]
name = "announce"
kind = "public"
`
	cfg, err := ParseConfig("secgate.toml", append(append([]byte{}, base...), lists...))
	if err != nil {
		t.Fatal(err)
	}
	r := cfg.Distlist.Lists[1].Rules()
	if r.MaxEmbargo.Hours() != 336 || r.NoticeBefore.Hours() != 168 || !r.NoPreRelease || !r.RequireCVE || r.SubjectTag != "[vs]" || !cfg.Distlist.Lists[0].Rules().IsZero() {
		t.Errorf("rules %+v, embargo %+v", r, cfg.Distlist.Lists[0].Rules())
	}
	for _, tc := range []struct {
		name, old, new, key, msg, at string
	}{
		{"told earlier than it accepts", `notice_before = "168h"`, `notice_before = "400h"`, "distlist.list[2].notice_before", "longer than max_embargo", "notice_before"},
		{"negative", `max_embargo = "336h"`, `max_embargo = "-336h"`, "distlist.list[2].max_embargo", "must not be negative", "max_embargo"},
		{"a tag on two lines", `subject_tag = "[vs]"`, `subject_tag = "[vs]\nBcc: x@evil.example"`, "distlist.list[2].subject_tag", "no control characters", "subject_tag"},
		{"rules of a public list", "kind = \"public\"\n", "kind = \"public\"\nsubject_tag = \"[x]\"\n", "distlist.list[3].kind", "not of a list of kind public", `kind = "public"`},
		{"an integer", `max_embargo = "336h"`, `max_embargo = 14`, "distlist.list.max_embargo", "a duration must be a string", "max_embargo"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			edited := strings.Replace(lists, tc.old, tc.new, 1)
			text := string(base) + edited
			_, err := ParseConfig("secgate.toml", []byte(text))
			var ce *ConfigError
			if !errors.As(err, &ce) || ce.Key != tc.key || !strings.Contains(ce.Msg, tc.msg) {
				t.Fatalf("%v, want %s: ...%s", err, tc.key, tc.msg)
			}
			if line := strings.Count(text[:len(base)+strings.Index(edited, tc.at)], "\n") + 1; ce.Line != line {
				t.Errorf("%v: at line %d, want %d", err, ce.Line, line)
			}
		})
	}
}

// TestCheckAudiences: a policy's audiences must name embargo lists,
// reported at the policy's audiences key, each once (a list named twice
// is refused when the configuration loads, at the policy's table).
func TestCheckAudiences(t *testing.T) {
	_, cfgPath, _ := initDir(t)
	base, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	text := string(base) + `
[[distlist.member]]
name = "A"
address = "a@example.org"
role = "lead"
[[distlist.list]]
name = "embargo"
kind = "embargo"
[[distlist.list]]
name = "announce"
kind = "public"

[schedule.policies.two]
base = "knative"
audiences = ["embargo", "distros", "announce"]
`
	cfg, err := ParseConfig("secgate.toml", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range cfg.checkWhole(map[string]string{"distros": "embargo"}) {
		got = append(got, e.Key+": "+e.Msg)
	}
	want := []string{
		`schedule.policies.two.audiences: list "announce" is a public list, not an embargo list`,
	}
	if len(got) != len(want) {
		t.Fatalf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for i := range want {
		if !strings.HasPrefix(got[i], want[i]) {
			t.Errorf("problem %q, want %q", got[i], want[i])
		}
	}
	_, err = ParseConfig("secgate.toml", []byte(strings.Replace(text, `audiences = ["embargo", "distros", "announce"]`, `audiences = ["embargo", "distros", "embargo"]`, 1)))
	var ce *ConfigError
	if !errors.As(err, &ce) || ce.Key != "schedule.policies.two" || !strings.Contains(ce.Msg, `list "embargo" is named twice`) ||
		ce.Line != strings.Count(text[:strings.Index(text, "[schedule.policies.two]")], "\n")+1 {
		t.Errorf("a list named twice: %v", err)
	}
	if line, want := keyLines([]byte(text)).find("schedule.policies.two.audiences"), strings.Count(text[:strings.LastIndex(text, "audiences =")], "\n")+1; line != want {
		t.Errorf("audiences found at line %d, want %d", line, want)
	}
}
