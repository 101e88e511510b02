package main

import (
	"fmt"
	"os"
	"strings"
	"testing"
)

// TestCasePrefixConfig: [project] case_prefix is checked when the
// configuration loads, the error naming the key and its line, and reaches
// the project the workflow is built with.
func TestCasePrefixConfig(t *testing.T) {
	valid, err := os.ReadFile("testdata/config/valid.toml")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		project string // the [project] table's keys besides case_prefix
		prefix  string
		bad     string // in the error; "" for none
	}{
		{prefix: "KN"},
		{prefix: "KATA"},
		{prefix: "K8S"},
		{prefix: "SEC"},
		{prefix: "kn", bad: `"kn": want 2 to 10 upper-case letters and digits, starting with a letter`},
		{prefix: "K", bad: "want 2 to 10"},
		{prefix: "KNATIVESECU", bad: "want 2 to 10"},
		{prefix: "KN-1", bad: "want 2 to 10"},
		{prefix: "1KN", bad: "starting with a letter"},
		{prefix: "CVE", bad: "CVE-YYYY-NNNN is a CVE ID"},
		{project: `advisory_prefix = "KCSA"`, prefix: "KCSA", bad: `"KCSA" is also the prefix of the project's advisory IDs (advisory_prefix)`},
		{prefix: "KCSN", bad: "security note IDs (note_prefix)"},
		{project: `note_prefix = "KNSN"`, prefix: "KNSN", bad: "security note IDs (note_prefix)"},
		{project: `note_prefix = "KNSN"`, prefix: "KCSN"},
	}
	for _, tt := range tests {
		text := string(valid) + "\n[project]\nname = \"Knative\"\n" + tt.project + "\ncase_prefix = " + fmt.Sprintf("%q", tt.prefix) + "\n"
		line := strings.Count(text[:strings.Index(text, "case_prefix")], "\n") + 1
		cfg, err := ParseConfig("x.toml", []byte(text))
		switch {
		case tt.bad == "" && err != nil:
			t.Errorf("case_prefix %q: %v", tt.prefix, err)
		case tt.bad == "" && cfg.project("FPR").CasePrefix != tt.prefix:
			t.Errorf("case_prefix %q: the project has %q", tt.prefix, cfg.project("FPR").CasePrefix)
		case tt.bad != "" && (err == nil || !strings.Contains(err.Error(), tt.bad) ||
			!strings.Contains(err.Error(), fmt.Sprintf("x.toml:%d: project.case_prefix: ", line))):
			t.Errorf("case_prefix %q: err = %v, want x.toml:%d: project.case_prefix: ... %s", tt.prefix, err, line, tt.bad)
		}
	}
	cfg, err := ParseConfig("x.toml", valid)
	if err != nil {
		t.Fatal(err)
	}
	if p := cfg.project("FPR").CasePrefix; p != "" {
		t.Errorf("no case_prefix: the project has %q, want the workflow's default", p)
	}
}
