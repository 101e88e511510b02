package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/secgate/secgate/templates"
)

var regexpThrough = regexp.MustCompile(`through [0-9]{4}-[0-9]{2}-[0-9]{2}( [0-9:]+ UTC)?`)

func TestTemplateCommands(t *testing.T) {
	f := newFixture(t)

	t.Run("list", func(t *testing.T) {
		out := f.ok(t, false, "template", "list")
		for _, n := range templates.Names() {
			if !strings.Contains(out, n) {
				t.Errorf("template list lacks %s", n)
			}
		}
		var got []map[string]string
		decodeJSON(t, f.ok(t, false, "template", "list", "--json"), &got)
		if len(got) != len(templates.Names()) || got[0]["source"] != "embedded" {
			t.Errorf("JSON: %v", got)
		}
	})

	t.Run("render sample", func(t *testing.T) {
		out := f.ok(t, false, "template", "render", templates.Ack)
		if !strings.HasPrefix(out, "Subject: ") || !strings.Contains(out, "SEC-2026-0007") {
			t.Errorf("render ack:\n%s", out)
		}
		// The project comes from the configuration, the rest from the
		// sample data.
		var got map[string]string
		decodeJSON(t, f.ok(t, false, "template", "render", templates.WrongKey, "--json"), &got)
		if !strings.Contains(got["body"], f.fprs["team"]) && strings.Contains(templatesSource(t, templates.WrongKey), "{{.Project.KeyFingerprint}}") {
			t.Errorf("render wrong-key lacks the team key fingerprint:\n%s", got["body"])
		}
	})

	t.Run("render case", func(t *testing.T) {
		out := f.ok(t, false, "template", "render", templates.Ack, "--case", f.ref)
		if !strings.Contains(out, f.ref) || strings.Contains(out, "SEC-2026-0007") {
			t.Errorf("render ack --case:\n%s", out)
		}
		var got map[string]string
		decodeJSON(t, f.ok(t, false, "template", "render", templates.EmbargoNotice, "--case", f.ref, "--json"), &got)
		if !strings.Contains(got["subject"], f.ref) || got["source"] != "embedded" || got["body"] == "" {
			t.Errorf("JSON: %v", got)
		}
	})

	t.Run("override", func(t *testing.T) {
		dir := filepath.Join(f.dir, "texts")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, templates.Ack+templates.Ext), []byte("Subject: [{{.Case.Ref}}] thanks\n\nOVERRIDDEN for {{.Case.Ref}}\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		text, err := os.ReadFile(f.cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer os.WriteFile(f.cfg, text, 0o644)
		s := strings.Replace(string(text), "templates = \"\"\n", "templates = \"texts\"\n", 1)
		s = strings.Replace(s, "name = \"Example\"\n", "name = \"Frobnicator\"\n", 1)
		if s == string(text) {
			t.Fatal("no gateway.templates in the configuration")
		}
		if err := os.WriteFile(f.cfg, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
		out := f.ok(t, false, "template", "render", templates.Ack, "--case", f.ref)
		if out != "Subject: ["+f.ref+"] thanks\n\nOVERRIDDEN for "+f.ref+"\n" {
			t.Errorf("override not used:\n%s", out)
		}
		if out := f.ok(t, false, "template", "render", templates.EmbargoNotice); !strings.Contains(out, "Frobnicator") {
			t.Errorf("the project name does not come from the configuration:\n%s", out)
		}
		if out := f.ok(t, false, "template", "list"); !strings.Contains(out, filepath.Join(dir, templates.Ack+templates.Ext)) {
			t.Errorf("template list does not name the override:\n%s", out)
		}
	})

	t.Run("errors", func(t *testing.T) {
		code, _, stderr := f.runNoKey(t, "template", "render", "nope")
		mustFail(t, code, stderr, `no template "nope"`)
		code, _, stderr = f.runNoKey(t, "template", "render", templates.Ack, "--case", "SEC-1999-0001")
		mustFail(t, code, stderr, "no case SEC-1999-0001")
		code, _, stderr = f.runNoKey(t, "template", "render")
		mustFail(t, code, stderr, "want 1 argument: NAME")
	})
}

func templatesSource(t *testing.T, name string) string {
	t.Helper()
	b, err := templates.Default(name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
