package templates

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files")

func TestLoadDefaults(t *testing.T) {
	s, err := Load("")
	if err != nil {
		t.Fatal(err)
	}
	names := Names()
	if len(names) < 28 {
		t.Fatalf("Names() = %d templates, want all 28: %v", len(names), names)
	}
	for _, n := range names {
		if s.Source(n) != "embedded" {
			t.Errorf("%s: source %q", n, s.Source(n))
		}
	}
}

// TestGolden renders every template with the sample data and compares with
// testdata/NAME.golden (run with -update to rewrite them).
func TestGolden(t *testing.T) {
	s, err := Load("")
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range Names() {
		t.Run(n, func(t *testing.T) {
			txt, err := s.Render(n, Sample())
			if err != nil {
				t.Fatal(err)
			}
			got := "Subject: " + txt.Subject + "\n\n" + txt.Body
			path := filepath.Join("testdata", n+".golden")
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
				t.Errorf("%s differs from %s:\n%s", n, path, got)
			}
			if strings.Contains(txt.Body, "<no value>") {
				t.Errorf("%s renders <no value>", n)
			}
		})
	}
}

func TestRenderSparse(t *testing.T) {
	s, err := Load("")
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range Names() {
		txt, err := s.Render(n, sparseSample())
		if err != nil {
			t.Errorf("%s: %v", n, err)
			continue
		}
		if txt.Subject == "" || strings.TrimSpace(txt.Body) == "" {
			t.Errorf("%s: empty subject or body: %+v", n, txt)
		}
		if strings.Contains(txt.Body, "<no value>") {
			t.Errorf("%s renders <no value>", n)
		}
	}
}

func TestOverride(t *testing.T) {
	tests := []struct {
		name    string
		file    string
		src     string
		wantErr string // "" means success
		line    int
	}{
		{"ok", "ack.tmpl", "Subject: hi {{.Case.Ref}}\n\nbody {{.Project.Name}}\n", "", 0},
		{"parse error", "ack.tmpl", "Subject: x\n\nline two\n{{if .Case.Ref}\n", "ack.tmpl", 4},
		{"unknown field", "embargo-notice.tmpl", "Subject: x\n\n\nhello {{.Case.Nope}}\n", "can't evaluate field Nope", 4},
		{"unknown func", "announcement.tmpl", "Subject: x\n\n{{frobnicate .Case.Ref}}\n", "frobnicate", 3},
		{"no subject", "ack.tmpl", "Hello\n\nbody\n", "Subject", 1},
		{"no blank line", "ack.tmpl", "Subject: x\nbody\n", "blank line", 2},
		{"unknown template", "ackk.tmpl", "Subject: x\n\nbody\n", "unknown template", 0},
		{"retired template", "team-note.tmpl", "Subject: x\n\nbody\n", "now part of team-summary", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, tc.file), []byte(tc.src), 0o644); err != nil {
				t.Fatal(err)
			}
			s, err := Load(dir)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				txt, err := s.Render(Ack, Sample())
				if err != nil {
					t.Fatal(err)
				}
				if txt.Subject != "hi SEC-2026-0007" || txt.Body != "body Example\n" {
					t.Errorf("got %+v", txt)
				}
				if s.Source(Ack) != filepath.Join(dir, "ack.tmpl") {
					t.Errorf("source %q", s.Source(Ack))
				}
				return
			}
			if err == nil {
				t.Fatal("Load accepted a broken override")
			}
			if !strings.Contains(err.Error(), tc.wantErr) || !strings.Contains(err.Error(), tc.file) {
				t.Errorf("error %q does not name %q and %q", err, tc.file, tc.wantErr)
			}
			var te *Error
			if !errors.As(err, &te) {
				t.Fatalf("error %T is not *Error", err)
			}
			if te.Line != tc.line {
				t.Errorf("line %d, want %d (%v)", te.Line, tc.line, err)
			}
		})
	}
}

// TestOverrideKeptInStep: the texts that keep the team and the reporter in
// step can each be overridden like any other, and an override that names a
// field the data does not have is refused at load.
func TestOverrideKeptInStep(t *testing.T) {
	tests := []struct {
		name string
		src  string // an override using the fields the text is given
		want string // its body rendered with the sample data
	}{
		{TeamSummary, "Subject: [{{.Case.Ref}}] {{.Actor.Name}}\n\n{{range .Answer.Done}}{{.}}; {{end}}next {{.Plan.Next}} {{utc .Plan.NextAt}}\n",
			"state: new -> confirmed; CVSS 9.8 (CRITICAL); next pre-release notice to the distributors 2026-12-14 16:00 UTC\n"},
		{ReporterConfirmed, "Subject: [{{.Case.Ref}}] confirmed\n\n{{.Case.Ref}} is {{.Case.State}}; lead {{.Case.Lead.Name}}\n",
			"SEC-2026-0007 is fix-committed; lead Alice Lead\n"},
		{ReporterPublished, "Subject: [{{.Case.Ref}}] out\n\nsee {{.Case.AdvisoryLink}}\n",
			"see https://example.org/advisories/EXSA-2026-001\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			file := filepath.Join(dir, tc.name+Ext)
			if err := os.WriteFile(file, []byte(tc.src), 0o644); err != nil {
				t.Fatal(err)
			}
			s, err := Load(dir)
			if err != nil {
				t.Fatal(err)
			}
			if s.Source(tc.name) != file {
				t.Errorf("source %q, want the override", s.Source(tc.name))
			}
			txt, err := s.Render(tc.name, Sample())
			if err != nil {
				t.Fatal(err)
			}
			if txt.Body != tc.want {
				t.Errorf("body %q, want %q", txt.Body, tc.want)
			}
			if err := os.WriteFile(file, []byte("Subject: x\n\n{{.Case.Nope}}\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), tc.name+Ext) {
				t.Errorf("a broken override of %s: %v", tc.name, err)
			}
		})
	}
}

func TestRenderUnknown(t *testing.T) {
	s, err := Load("")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Render("nope", Sample()); !errors.Is(err, ErrUnknown) {
		t.Fatalf("err = %v, want ErrUnknown", err)
	}
	// Wrong data type: an error, not a panic.
	if _, err := s.Render(Ack, struct{}{}); err == nil {
		t.Fatal("rendering with the wrong data type succeeded")
	}
}

func TestSubjectInjection(t *testing.T) {
	s, err := Load("")
	if err != nil {
		t.Fatal(err)
	}
	d := Sample()
	d.Case.Title = "x\r\nBcc: victim@example.com\u202e"
	for _, n := range Names() {
		txt, err := s.Render(n, d)
		if err != nil {
			t.Fatal(err)
		}
		if strings.ContainsAny(txt.Subject, "\r\n\u202e") {
			t.Errorf("%s: subject %q carries a line break or bidi control", n, txt.Subject)
		}
	}
}

func TestHeaderSafe(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain", "plain"},
		{"a\r\nBcc: x", "a Bcc: x"},
		{"nul\x00byte", "nulbyte"},
		{"  lots   of\tspace  ", "lots of space"},
		{"bidi \u202eevil\u202c", "bidi <U+202E>evil<U+202C>"},
		{"zero\u200bwidth", "zero<U+200B>width"},
		{"bad \xff utf8", "bad utf8"},
		{"ümlaut – ok", "ümlaut – ok"},
		{"\u2028line\u2029sep", "<U+2028>line<U+2029>sep"},
		{"del\x7f\u0085c1", "del<U+0085>c1"},
		{"soft\u00adhyphen\u2061", "softhyphen"},
		{strings.Repeat("a", 300), strings.Repeat("a", 200)},
	}
	for _, tc := range tests {
		if got := HeaderSafe(tc.in); got != tc.want {
			t.Errorf("HeaderSafe(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func FuzzHeaderSafe(f *testing.F) {
	for _, s := range []string{"a\r\nb", "\u202e", "\xff", "x\x00y"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := HeaderSafe(s)
		for _, r := range out {
			if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || invisible(r) {
				t.Fatalf("HeaderSafe(%q) = %q keeps %U", s, out, r)
			}
		}
		if HeaderSafe(out) != out {
			t.Fatalf("HeaderSafe not idempotent on %q", s)
		}
	})
}

// FuzzOverride feeds arbitrary template sources to Load: it must either
// accept them or return an *Error, never panic.
func FuzzOverride(f *testing.F) {
	f.Add("Subject: x\n\n{{.Case.Ref}}\n")
	f.Add("{{if}}")
	f.Add("Subject: {{range .Skipped}}{{.Name}}{{end}}\n\nx")
	f.Fuzz(func(t *testing.T, src string) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "ack.tmpl"), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := Load(dir); err != nil {
			var te *Error
			if !errors.As(err, &te) {
				t.Fatalf("error %T is not *Error: %v", err, err)
			}
		}
	})
}
