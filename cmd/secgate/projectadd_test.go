package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestProjectAdd: project add writes a project file that loads with the
// others and that init -project then gives a key and a database; a name
// taken, a bad name, a team address that does not load and a gateway of
// one project are refused, and nothing is written then.
func TestProjectAdd(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("secgate.toml", "[gateway]\ndomain = \"example.org\"\ndata_dir = \"data\"\nprojects = \"projects\"\n\n"+
		"[imap]\naddress = \"127.0.0.1:993\"\npassword_file = \"imap.pass\"\n\n[smtp]\naddress = \"127.0.0.1:587\"\npassword_file = \"smtp.pass\"\n")
	write("single.toml", "[gateway]\ndomain = \"example.org\"\nteam = \"security@example.org\"\n")
	write("imap.pass", "pw\n")
	write("smtp.pass", "pw\n")
	write("kata.pass", "a passphrase long enough\n")
	if err := os.Mkdir(filepath.Join(dir, "projects"), 0o755); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "secgate.toml")

	code, out, errOut := runCLI(t, nil, "project", "add", "-config", cfg, "-team", "security@kata.example", "-passphrase-file", "../kata.pass",
		"-policy", "kata", "-case-prefix", "KATA", "kata")
	if code != 0 || !strings.Contains(out, "secgate init -config "+cfg+" -project kata") {
		t.Fatalf("project add: exit %d\n%s%s", code, out, errOut)
	}
	set, err := LoadProjects(cfg)
	if err != nil {
		t.Fatal(err)
	}
	p := set.Project("kata")
	if p == nil || p.Gateway.Team != "security@kata.example" || p.Schedule.Policy != "kata" || p.Project.CasePrefix != "KATA" ||
		p.IMAP.User != "security@kata.example" || p.SMTP.User != "security@kata.example" {
		t.Fatalf("the new project loads as %+v", p)
	}
	if code, out, errOut := runCLI(t, nil, "init", "-config", cfg, "-project", "kata"); code != 0 {
		t.Fatalf("init -project kata: exit %d\n%s%s", code, out, errOut)
	}
	if code, out, _ := runCLI(t, nil, "project", "list", "-config", cfg); code != 0 || !strings.Contains(out, "security@kata.example") {
		t.Errorf("project list after add and init: exit %d\n%s", code, out)
	}

	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"taken", []string{"-config", cfg, "-team", "other@kata.example", "-passphrase-env", "X", "kata"}, "exists already"},
		{"bad name", []string{"-config", cfg, "-team", "x@y.example", "-passphrase-env", "X", "Kata_2"}, "lower-case letters"},
		{"no team", []string{"-config", cfg, "-passphrase-env", "X", "kn"}, "-team ADDRESS is required"},
		{"no passphrase", []string{"-config", cfg, "-team", "x@y.example", "kn"}, "-passphrase-file"},
		{"same team as kata", []string{"-config", cfg, "-team", "security@kata.example", "-passphrase-env", "X", "kn"}, "nothing written"},
		{"one project", []string{"-config", filepath.Join(dir, "single.toml"), "-team", "x@y.example", "-passphrase-env", "X", "kn"}, "serves one project"},
	} {
		code, _, errOut := runCLI(t, nil, append([]string{"project", "add"}, tc.args...)...)
		if code == 0 || !strings.Contains(errOut, tc.want) {
			t.Errorf("%s: exit %d, stderr %q, want %q", tc.name, code, errOut, tc.want)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "projects", "kn.toml")); !os.IsNotExist(err) {
		t.Errorf("a refused project add left its file: %v", err)
	}
}
