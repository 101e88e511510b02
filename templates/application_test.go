package templates

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestApplicationGolden renders the team's copy of an application as the
// workflow passes it for one it took (Refused empty; the sample's is set,
// as for one it did not take), compared with testdata/application-taken.golden.
func TestApplicationGolden(t *testing.T) {
	s, err := Load("")
	if err != nil {
		t.Fatal(err)
	}
	d := Sample()
	d.Application.Refused, d.Application.SecretKey = "", false
	txt, err := s.Render(Application, d)
	if err != nil {
		t.Fatal(err)
	}
	got := "Subject: " + txt.Subject + "\n\n" + txt.Body
	path := filepath.Join("testdata", "application-taken.golden")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("differs from %s:\n%s", path, got)
	}
	for _, s := range []string{"/list approve APP-2026-0003", "[ ] User base", "| We ship Example"} {
		if !strings.Contains(got, s) {
			t.Errorf("no %q in:\n%s", s, got)
		}
	}
}
