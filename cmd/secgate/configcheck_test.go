package main

import (
	"errors"
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestPolicyKeys: one key sets the policy of new cases, [schedule] policy,
// also when it names a policy defined under [schedule.policies]; [cases]
// policy is an alias that warns, and an error when it says otherwise; a bad
// policy is reported at its own table's line.
func TestPolicyKeys(t *testing.T) {
	_, cfgPath, _ := initDir(t)
	base, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	schedulePolicy := regexp.MustCompile(`(?m)^\[schedule\]\n`)
	if !schedulePolicy.Match(base) {
		t.Fatal("the configuration init writes has no [schedule] table")
	}
	parse := func(edit func(string) string) (*Config, error) {
		return ParseConfig("secgate.toml", []byte(edit(string(base))))
	}
	setSchedule := func(policy string) func(string) string {
		return func(s string) string {
			return regexp.MustCompile(`(?m)^(\[schedule\]\n(?:#.*\n)*)policy = ".*"`).ReplaceAllString(s, `${1}policy = "`+policy+`"`)
		}
	}
	fast := "\n[schedule.policies.fast]\nbase = \"knative\"\nmin_notice = \"48h\"\n"

	cfg, err := parse(func(s string) string { return setSchedule("fast")(s) + fast })
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Cases.Policy != "fast" || len(cfg.Warnings) != 0 {
		t.Errorf("[schedule] policy = fast: new cases get %q (warnings %q)", cfg.Cases.Policy, cfg.Warnings)
	}

	casesPolicy := func(s string) string {
		return regexp.MustCompile(`(?m)^\[cases\]\n`).ReplaceAllString(s, "[cases]\npolicy = \"kata\"\n")
	}
	alone := regexp.MustCompile(`(?m)^(\[schedule\]\n(?:#.*\n)*)policy = ".*"\n`).ReplaceAllString(string(base), "$1")
	cfg, err = ParseConfig("secgate.toml", []byte(casesPolicy(alone)))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Schedule.Policy != "kata" || cfg.Cases.Policy != "kata" || len(cfg.Warnings) != 1 || !strings.Contains(cfg.Warnings[0], "deprecated alias") {
		t.Errorf("[cases] policy alone: schedule %q, cases %q, warnings %q", cfg.Schedule.Policy, cfg.Cases.Policy, cfg.Warnings)
	}

	_, err = parse(casesPolicy)
	var ce *ConfigError
	if !errors.As(err, &ce) || ce.Key != "cases.policy" || !strings.Contains(ce.Msg, "differs from schedule.policy") {
		t.Errorf("[cases] policy saying otherwise: %v", err)
	}

	text := setSchedule("fast")(string(base)) + strings.Replace(fast, `"48h"`, `"-48h"`, 1)
	_, err = ParseConfig("secgate.toml", []byte(text))
	line := strings.Count(text[:strings.Index(text, "[schedule.policies.fast]")], "\n") + 1
	if !errors.As(err, &ce) || ce.Line != line || !strings.Contains(ce.Msg, `policy "fast"`) {
		t.Errorf("a bad policy: %v (line %d), want it at line %d", err, ce.Line, line)
	}
}

// TestCheckWhole: what only makes sense together.
func TestCheckWhole(t *testing.T) {
	tests := []struct {
		name  string
		toml  string
		lists map[string]string // in the database
		want  []string          // substrings of the problems; none: no problem
	}{
		{"complete", `
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
`, nil, nil},
		{"lists in the database", `
[[distlist.member]]
name = "A"
address = "a@example.org"
role = "lead"
`, map[string]string{"embargo": "embargo", "announce": "public"}, nil},
		{"nobody", "", nil, []string{"no [[distlist.member]]", `list "embargo" is not defined`, `list "announce" is not defined`}},
		{"no lead", `
[[distlist.member]]
name = "A"
address = "a@example.org"
`, map[string]string{"embargo": "embargo", "announce": "public"}, []string{`no member has role = "lead"`}},
		{"lists of the wrong kind", `
[[distlist.member]]
name = "A"
address = "a@example.org"
role = "lead"
[[distlist.list]]
name = "embargo"
kind = "public"
[[distlist.list]]
name = "announce"
kind = "embargo"
`, nil, []string{`"embargo" is a public list, not an embargo list`, `"announce" is an embargo list, not a public one`}},
	}
	_, cfgPath, _ := initDir(t)
	base, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := ParseConfig("secgate.toml", append(append([]byte{}, base...), tc.toml...))
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, e := range cfg.checkWhole(tc.lists) {
				got = append(got, e.Key+": "+e.Msg)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("problems %q, want %d: %q", got, len(tc.want), tc.want)
			}
			for i, w := range tc.want {
				if !strings.Contains(got[i], w) {
					t.Errorf("problem %q lacks %q", got[i], w)
				}
			}
		})
	}
}
