package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDemo runs the demo for each preset and checks its verdict and the
// steps of its timeline.
func TestDemo(t *testing.T) {
	for _, preset := range []string{"knative", "kata", "kubeedge"} {
		t.Run(preset, func(t *testing.T) {
			code, stdout, stderr := runCLI(t, nil, "demo", "-preset", preset)
			if code != 0 {
				t.Fatalf("demo exit %d\n%s\n%s", code, stdout, stderr)
			}
			for _, want := range []string{
				"ack ", "team-copy", "handoff", "Refused: nothing was changed",
				"embargo-notice    encrypted+signed", "prerelease-notice encrypted+signed",
				"announcement      signed", "+.ics", "checks passed.",
			} {
				if !strings.Contains(stdout, want) {
					t.Errorf("timeline lacks %q", want)
				}
			}
			if strings.Contains(stdout, "security@distro-three.example     ") {
				t.Errorf("the distributor with the expired key received mail:\n%s", stdout)
			}
			if strings.Contains(stdout, "FAIL") {
				t.Errorf("a check failed:\n%s", stdout)
			}
		})
	}
}

func TestDemoKeep(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "kept")
	code, stdout, stderr := runCLI(t, nil, "demo", "-keep", dir)
	if code != 0 {
		t.Fatalf("demo exit %d\n%s\n%s", code, stdout, stderr)
	}
	for _, p := range []string{"secgate.toml", "secgate.db", "keys/team.asc", "mail/rita@reporter.example/*.eml",
		"mail/security@distro-one.example/*.eml", "artifacts/CVE-2026-41234.json"} {
		if m, _ := filepath.Glob(filepath.Join(dir, p)); len(m) == 0 {
			t.Errorf("%s not kept", p)
		}
	}
	// The kept configuration is a valid one.
	if _, err := LoadConfig(filepath.Join(dir, "secgate.toml")); err != nil {
		t.Errorf("kept configuration: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "mail", "security@distro-three.example")); err == nil {
		t.Error("the distributor with the expired key has mail")
	}
}

func TestDemoBadPreset(t *testing.T) {
	code, _, stderr := runCLI(t, nil, "demo", "-preset", "nope")
	if code != 1 || !strings.Contains(stderr, "-preset") {
		t.Fatalf("demo -preset nope: exit %d, %q", code, stderr)
	}
}
