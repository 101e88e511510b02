package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeTree writes files (relative path -> text) under a new directory and
// returns it.
func writeTree(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, text := range files {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// topFile is the top file of a gateway of several projects: the defaults
// every project inherits.
const topFile = `[gateway]
domain = "example.org"
data_dir = "data"
projects = "projects"
log_level = "debug"

[team_key]
passphrase_env = "SECGATE_PASSPHRASE"

[imap]
address = "imap.example.org:993"
password_file = "imap.pass"

[smtp]
address = "smtp.example.org:587"
user = "gateway@example.org"
password_file = "smtp.pass"

[metrics]
listen = "127.0.0.1:9464"

[intake]
rate_limit = 7

[[distlist.member]]
name = "Top Member"
address = "top@example.org"
key_file = "keys/top.asc"
role = "lead"
tz = "Europe/Paris"
`

// projectFile is a project file for name with more lines in [gateway]
// (gw) and after its [imap] (extra).
func projectFile(name, gw, extra string) string {
	id := shortName(name)
	return `[project]
name = "` + name + `"

[gateway]
team = "security@` + id + `.example"
` + gw + `
[imap]
user = "security@` + id + `.example"
` + extra
}

func TestLoadProjects(t *testing.T) {
	dir := writeTree(t, map[string]string{
		"secgate.toml": topFile,
		"projects/knative.toml": projectFile("Knative", "", `
[schedule]
policy = "knative"

[[distlist.member]]
address = "alice@knative.example"
key_file = "keys/alice.asc"
role = "lead"
`),
		"projects/kata.toml": projectFile("Kata Containers", "database = \"kata.db\"\n", `
[team_key]
path = "/srv/kata/team-key.asc"
passphrase_file = "kata.pass"

[schedule]
policy = "kata"
`),
		"projects/README.md": "not a project\n",
	})
	set, err := LoadProjects(filepath.Join(dir, "secgate.toml"))
	if err != nil {
		t.Fatal(err)
	}
	if !set.Several() || strings.Join(set.Names(), " ") != "kata-containers knative" {
		t.Fatalf("projects %q (several: %v), want kata-containers and knative", set.Names(), set.Several())
	}
	kn, kata := set.Project("knative"), set.Project("kata-containers")
	top := set.Top
	for _, tt := range []struct{ what, got, want string }{
		// Process-wide settings come from the top file.
		{"top log level", top.Gateway.LogLevel, "debug"},
		{"top metrics", top.Metrics.Listen, "127.0.0.1:9464"},
		// Defaults inherited, paths relative to the file that sets them.
		{"knative smtp", kn.SMTP.Address, "smtp.example.org:587"},
		{"knative imap password", kn.IMAP.PasswordFile, filepath.Join(dir, "imap.pass")},
		{"knative imap user", kn.IMAP.User, "security@knative.example"},
		{"kata imap user", kata.IMAP.User, "security@kata-containers.example"},
		{"knative team", kn.Gateway.Team, "security@knative.example"},
		{"knative passphrase env", kn.TeamKey.PassphraseEnv, "SECGATE_PASSPHRASE"},
		// A project's own data by default.
		{"knative database", kn.Gateway.Database, filepath.Join(dir, "data", "projects", "knative", "secgate.db")},
		{"knative team key", kn.TeamKey.Path, filepath.Join(dir, "data", "projects", "knative", "team-key.asc")},
		{"knative file", kn.File, filepath.Join(dir, "projects", "knative.toml")},
		{"knative policy", kn.Schedule.Policy, "knative"},
		// What the project file sets replaces the top file's.
		{"kata database", kata.Gateway.Database, filepath.Join(dir, "projects", "kata.db")},
		{"kata team key", kata.TeamKey.Path, "/srv/kata/team-key.asc"},
		{"kata passphrase file", kata.TeamKey.PassphraseFile, filepath.Join(dir, "projects", "kata.pass")},
		{"kata passphrase env (replaced by the file)", kata.TeamKey.PassphraseEnv, ""},
		{"kata policy", kata.Schedule.Policy, "kata"},
		{"kata cases policy", kata.Cases.Policy, "kata"},
	} {
		if tt.got != tt.want {
			t.Errorf("%s: %q, want %q", tt.what, tt.got, tt.want)
		}
	}
	if kn.Intake.RateLimit != 7 || kata.Intake.RateLimit != 7 {
		t.Errorf("intake.rate_limit not inherited: %d, %d", kn.Intake.RateLimit, kata.Intake.RateLimit)
	}
	// An array of tables the project file sets is replaced whole: no field
	// of the top file's first member leaks into the project's.
	if len(kn.Distlist.Members) != 1 {
		t.Fatalf("knative members: %+v, want alice alone", kn.Distlist.Members)
	}
	if m := kn.Distlist.Members[0]; m.Address != "alice@knative.example" || m.Name != "" || m.TZ != "" ||
		m.KeyFile != filepath.Join(dir, "projects", "keys", "alice.asc") {
		t.Errorf("knative member: %+v", m)
	}
	// One the project file does not set is inherited, its key file
	// relative to the top file.
	if len(kata.Distlist.Members) != 1 || kata.Distlist.Members[0].KeyFile != filepath.Join(dir, "keys", "top.asc") {
		t.Errorf("kata members: %+v, want the top file's", kata.Distlist.Members)
	}
	// Nothing of one project is the other's.
	if &kn.Distlist.Members[0] == &kata.Distlist.Members[0] {
		t.Error("the projects share their members' backing array")
	}
}

// TestLoadProjectsRefuses: a project file may not set what is the
// process's, and no two projects share a name, an address, a key, a
// database or a mailbox. Each problem names its file and line.
func TestLoadProjectsRefuses(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		want  []string // every one in the error
	}{
		{"process-wide keys", map[string]string{
			"projects/a.toml": projectFile("A", "log_level = \"debug\"\nmemory_limit_mib = 200\n", ""),
			"projects/b.toml": projectFile("B", "", `
[metrics]
listen = "127.0.0.1:9999"
`),
			"projects/c.toml": "gateway.gc_percent = 100\ngateway.projects = \"x\"\n" + strings.Replace(projectFile("C", "", ""), "[gateway]\n", "", 1),
			"projects/d.toml": projectFile("D", "", "log_level = \"debug\"\n"),
		}, []string{
			"a.toml:6: gateway.log_level: only the top file (secgate.toml) may set it: it applies to the whole process, every project",
			"a.toml:7: gateway.memory_limit_mib: only the top file",
			"b.toml:11: metrics.listen: only the top file",
			"c.toml:1: gateway.gc_percent: only the top file", "c.toml:2: gateway.projects: only the top file",
			"d.toml:9: imap.log_level: unknown key", // [imap] has no log_level at all
		}},
		{"same name", map[string]string{
			"projects/a.toml": projectFile("Knative", "", ""),
			"projects/b.toml": strings.ReplaceAll(projectFile("Knative", "", ""), "security@knative", "security@other"),
		}, []string{"b.toml:2: project.name: name \"knative\" is also project knative's (", "a.toml, project.name)"}},
		{"same team address", map[string]string{
			"projects/a.toml": projectFile("A", "", ""),
			"projects/b.toml": strings.Replace(projectFile("B", "", ""), "team = \"security@b.example\"", "team = \"Security@A.example\"", 1),
		}, []string{"b.toml:5: gateway.team: address \"security@a.example\" is also project a's"}},
		{"each its own database by default", map[string]string{
			"projects/a.toml": projectFile("A", "", ""),
			"projects/b.toml": projectFile("B", "", ""),
		}, nil},
		{"same database", map[string]string{
			"projects/a.toml": projectFile("A", "database = \"../common.db\"\n", ""),
			"projects/b.toml": projectFile("B", "database = \"../data/../common.db\"\n", ""),
		}, []string{"b.toml:6: gateway.database: database \"", "common.db\" is also project a's"}},
		{"same key file", map[string]string{
			"projects/a.toml": projectFile("A", "", "\n[team_key]\npath = \"/keys/team.asc\"\n"),
			"projects/b.toml": projectFile("B", "", "\n[team_key]\npath = \"/keys/team.asc\"\n"),
		}, []string{"b.toml:11: team_key.path: team key file \"/keys/team.asc\" is also project a's"}},
		{"same mailbox", map[string]string{
			"projects/a.toml": projectFile("A", "", ""),
			"projects/b.toml": strings.Replace(projectFile("B", "", ""), "user = \"security@b.example\"", "user = \"SECURITY@a.example\"", 1),
		}, []string{"b.toml:8: imap.user: mailbox \"security@a.example on imap.example.org:993\" is also project a's"}},
		{"no name", map[string]string{
			"projects/a.toml": "[gateway]\nteam = \"security@a.example\"\n",
		}, []string{"a.toml: project.name: required in a project file", "a.toml: imap.user: required"}},
		{"bad value in the top file once", map[string]string{
			"projects/a.toml": projectFile("A", "", ""),
			"projects/b.toml": projectFile("B", "", ""),
		}, []string{"secgate.toml:18: smtp.tls: \"ssl\" is not one of tls, starttls, plain-loopback"}},
		{"no project file", map[string]string{"projects/x.txt": ""}, []string{"secgate.toml:4: gateway.projects: no project file (*.toml) in projects"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			top := topFile
			if tt.name == "bad value in the top file once" {
				top = strings.Replace(top, "password_file = \"smtp.pass\"\n", "password_file = \"smtp.pass\"\ntls = \"ssl\"\n", 1)
			}
			files := map[string]string{"secgate.toml": top}
			for k, v := range tt.files {
				files[k] = v
			}
			dir := writeTree(t, files)
			_, err := LoadProjects(filepath.Join(dir, "secgate.toml"))
			if tt.want == nil {
				if err != nil {
					t.Fatalf("want no problem: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("loaded; want %q", tt.want)
			}
			msg := strings.ReplaceAll(err.Error(), dir+string(filepath.Separator), "")
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error lacks %q:\n%s", w, msg)
				}
			}
			if tt.name == "bad value in the top file once" && strings.Count(msg, "smtp.tls") != 1 {
				t.Errorf("the top file's problem is not told once:\n%s", msg)
			}
		})
	}
}

// TestLoadProjectsSingleFile: a file without projects is one project, as
// it always was: the same configuration and database as LoadConfig, named
// by its [project] name lower-cased, or "default".
func TestLoadProjectsSingleFile(t *testing.T) {
	_, cfgPath, _ := initDir(t)
	want, err := LoadConfig(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	set, err := LoadProjects(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	if set.Several() || len(set.Projects) != 1 || set.Top != set.Projects[0] {
		t.Fatalf("a single file is not one project: %+v", set)
	}
	got := set.Projects[0]
	if got.Name != "example" || got.Gateway.Database != want.Gateway.Database || got.TeamKey.Path != want.TeamKey.Path ||
		got.Gateway.Database != filepath.Join(filepath.Dir(cfgPath), "data", "secgate.db") {
		t.Errorf("project %q, database %s, key %s; want example, %s, %s", got.Name, got.Gateway.Database, got.TeamKey.Path,
			want.Gateway.Database, want.TeamKey.Path)
	}
	for _, tt := range []struct{ display, want string }{
		{"", "default"}, {"Knative", "knative"}, {"Kata Containers", "kata-containers"}, {"KubeEdge", "kubeedge"},
		{"  Foo/Bar 2 ", "foo-bar-2"}, {"---", "default"},
	} {
		c := &Config{Project: ProjectConfig{Name: tt.display}}
		if n := c.projectName(); n != tt.want {
			t.Errorf("project name of %q: %q, want %q", tt.display, n, tt.want)
		}
	}
}
