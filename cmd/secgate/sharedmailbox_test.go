package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// sharedTop is topFile whose [imap] is a mailbox the projects share, with
// more lines in that [imap] (extra).
func sharedTop(extra string) string {
	return strings.Replace(topFile, "password_file = \"imap.pass\"\n",
		"password_file = \"imap.pass\"\nuser = \"security@example.org\"\nshared = true\n"+extra, 1)
}

// sharingProject is a project file without a mailbox of its own: its team
// address is security+ID@example.org; more lines in [project] (project)
// and at the end (extra).
func sharingProject(name, project, extra string) string {
	return `[project]
name = "` + name + `"
` + project + `

[gateway]
team = "security+` + shortName(name) + `@example.org"
` + extra
}

// TestLoadProjectsSharedMailbox: the projects without an imap.user read
// the top file's shared mailbox, a project with one its own; the default
// project and each project's routed addresses.
func TestLoadProjectsSharedMailbox(t *testing.T) {
	dir := writeTree(t, map[string]string{
		"secgate.toml": sharedTop("default_project = \"knative\"\npush_listen = \"127.0.0.1:9465\"\n"),
		"projects/knative.toml": sharingProject("Knative", "addresses = [\"knative-security@example.org\"]\n", `
[distlist]
bounce = "security+knative-bounces@example.org"
`[1:]),
		"projects/kata.toml": sharingProject("Kata", "", ""),
		"projects/own.toml":  projectFile("Own", "", "push_listen = \"\"\n"),
	})
	set, err := LoadProjects(filepath.Join(dir, "secgate.toml"))
	if err != nil {
		t.Fatal(err)
	}
	var sharing []string
	for _, p := range set.Sharing() {
		sharing = append(sharing, p.Name)
	}
	if !slices.Equal(sharing, []string{"kata", "knative"}) || set.DefaultProject() != "knative" {
		t.Errorf("sharing %q, default %q; want kata and knative, knative", sharing, set.DefaultProject())
	}
	if own := set.Project("own"); own.SharesMailbox || own.IMAP.User != "security@own.example" {
		t.Errorf("own: shares %v, user %q", own.SharesMailbox, own.IMAP.User)
	}
	kn := set.Project("knative")
	if got, want := kn.routeAddresses(), []string{"security+knative@example.org", "security+knative-bounces@example.org", "knative-security@example.org"}; !slices.Equal(got, want) {
		t.Errorf("knative's addresses %q, want %q", got, want)
	}
	if kn.IMAP.User != "security@example.org" || kn.IMAP.PushListen != "127.0.0.1:9465" {
		t.Errorf("knative's mailbox %q, push %q: want the shared one's", kn.IMAP.User, kn.IMAP.PushListen)
	}
	if err := checkSharedSelection(set, []*Config{kn, set.Project("own")}); err == nil || !strings.Contains(err.Error(), "with kata") {
		t.Errorf("serving knative without kata: %v", err)
	}
	if err := checkSharedSelection(set, []*Config{set.Project("own")}); err != nil {
		t.Errorf("serving own alone: %v", err)
	}

	code, out, stderr := runCLI(t, nil, "project", "show", "kata", "-config", filepath.Join(dir, "secgate.toml"))
	if code != 0 || !strings.Contains(out, "security@example.org on imap.example.org:993 (shared; addresses security+kata@example.org; default project knative)") {
		t.Errorf("project show kata: exit %d\n%s%s", code, out, stderr)
	}

	// One project sharing needs no default.
	dir = writeTree(t, map[string]string{
		"secgate.toml":       sharedTop(""),
		"projects/kata.toml": sharingProject("Kata", "", ""),
		"projects/own.toml":  projectFile("Own", "", ""),
	})
	if set, err = LoadProjects(filepath.Join(dir, "secgate.toml")); err != nil {
		t.Fatal(err)
	}
	if set.DefaultProject() != "kata" {
		t.Errorf("default %q, want kata", set.DefaultProject())
	}
}

// TestLoadProjectsSharedRefuses: what config check refuses of a shared
// mailbox, each problem with its file and line.
func TestLoadProjectsSharedRefuses(t *testing.T) {
	tests := []struct {
		name  string
		top   string // the shared [imap]'s extra lines; "-": the plain topFile
		files map[string]string
		want  []string
	}{
		{"no default with two sharing", "", map[string]string{
			"projects/a.toml": sharingProject("A", "", ""),
			"projects/b.toml": sharingProject("B", "", ""),
		}, []string{"secgate.toml:14: imap.shared: set imap.default_project, the project whose quarantine holds the mail that no project, or several, own: a, b share the mailbox"}},
		{"default not a project", "default_project = \"c\"\n", map[string]string{
			"projects/a.toml": sharingProject("A", "", ""),
			"projects/b.toml": sharingProject("B", "", ""),
		}, []string{"secgate.toml:15: imap.default_project: \"c\" is not a project reading the shared mailbox (a, b)"}},
		{"default with a mailbox of its own", "default_project = \"c\"\n", map[string]string{
			"projects/a.toml": sharingProject("A", "", ""),
			"projects/b.toml": sharingProject("B", "", ""),
			"projects/c.toml": projectFile("C", "", ""),
		}, []string{"imap.default_project: project c reads a mailbox of its own (imap.user); the default project is one reading the shared mailbox (a, b)"}},
		{"an address of two projects", "default_project = \"a\"\n", map[string]string{
			"projects/a.toml": sharingProject("A", "addresses = [\"alias@example.org\"]\n", ""),
			"projects/b.toml": sharingProject("B", "addresses = [\"Alias@Example.org\"]\n", ""),
		}, []string{"b.toml:3: project.addresses: address \"alias@example.org\" is also project a's"}},
		{"an alias that is another project's team address", "default_project = \"a\"\n", map[string]string{
			"projects/a.toml": sharingProject("A", "", ""),
			"projects/b.toml": sharingProject("B", "addresses = [\"security+a@example.org\"]\n", ""),
		}, []string{"b.toml:3: project.addresses: address \"security+a@example.org\" is also project a's (", "a.toml, gateway.team)"}},
		{"a bad alias", "", map[string]string{
			"projects/a.toml": sharingProject("A", "addresses = [\"not an address\"]\n", ""),
		}, []string{"a.toml:3: project.addresses: item 1:"}},
		{"own mailbox the shared one", "", map[string]string{
			"projects/a.toml": sharingProject("A", "", ""),
			"projects/b.toml": strings.Replace(projectFile("B", "", ""), "user = \"security@b.example\"", "user = \"Security@example.org\"", 1),
		}, []string{"b.toml:8: imap.user: mailbox \"security@example.org on imap.example.org:993\" is the shared mailbox (", "secgate.toml, imap.shared) that a read: remove imap.user to share it"}},
		{"own mailbox on the shared push listener", "push_listen = \"127.0.0.1:9465\"\n", map[string]string{
			"projects/a.toml": sharingProject("A", "", ""),
			"projects/b.toml": projectFile("B", "", ""),
		}, []string{"secgate.toml:15: imap.push_listen: push listener \"127.0.0.1:9465\" is the shared mailbox's (", "b.toml for project b's own mailbox"}},
		{"a sharing project setting the shared mailbox's server", "", map[string]string{
			"projects/a.toml": sharingProject("A", "", "\n[imap]\naddress = \"other.example.org:993\"\n"),
		}, []string{"a.toml:9: imap.address: the project reads the shared mailbox (imap.shared in ", "set imap.user too for a mailbox of its own"}},
		{"no project sharing", "", map[string]string{
			"projects/a.toml": projectFile("A", "", ""),
		}, []string{"secgate.toml:14: imap.shared: no project reads the shared mailbox: each sets an imap.user of its own"}},
		{"shared in a project file", "-", map[string]string{
			"projects/a.toml": projectFile("A", "", "shared = true\ndefault_project = \"a\"\n"),
		}, []string{"a.toml:9: imap.shared: only the top file (", "a.toml:10: imap.default_project: only the top file ("}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			top := sharedTop(tt.top)
			if tt.top == "-" {
				top = topFile
			}
			files := map[string]string{"secgate.toml": top}
			for k, v := range tt.files {
				files[k] = v
			}
			dir := writeTree(t, files)
			_, err := LoadProjects(filepath.Join(dir, "secgate.toml"))
			if err == nil {
				t.Fatalf("loaded; want %q", tt.want)
			}
			msg := strings.ReplaceAll(err.Error(), dir+string(filepath.Separator), "")
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error lacks %q:\n%s", w, msg)
				}
			}
		})
	}
}

// TestSharedMailboxSingleFile: a file without projects may not share its
// mailbox; a single file is otherwise unchanged.
func TestSharedMailboxSingleFile(t *testing.T) {
	valid, err := os.ReadFile("testdata/config/valid.toml")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ParseConfig("secgate.toml", valid); err != nil {
		t.Fatal(err)
	}
	text := strings.Replace(string(valid), "[imap]\n", "[imap]\nshared = true\ndefault_project = \"x\"\n", 1)
	_, err = ParseConfig("secgate.toml", []byte(text))
	if err == nil || !strings.Contains(err.Error(), "imap.shared: only in the top file of several projects") ||
		!strings.Contains(err.Error(), "imap.default_project: only in the top file") {
		t.Errorf("shared in a single file: %v", err)
	}
}
