package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/secgate/secgate/cases"
	"github.com/secgate/secgate/crypto"
	"github.com/secgate/secgate/distlist"
	"github.com/secgate/secgate/internal/clock"
	"github.com/secgate/secgate/store"
)

// multiFixture is a gateway of two projects, knative and kata, each set up
// by secgate init -project: its own team key (locked with its own
// passphrase, from its own file), its own database, its own member (alice
// leads knative, bob kata), lists and policy. Knative has two cases, kata one: both
// have a SEC-2030-0001, so that reference alone names no project. Each
// case has an outbox row to its project's member.
type multiFixture struct {
	dir, cfg string
	fprs     map[string]string
	keyFiles map[string]string // armored public key files by person
}

// multiProject is one project of the fixture: its name in texts, its
// member and the passphrase of its team key.
type multiProject struct{ display, short, member, pass, policy string }

var multiProjects = []multiProject{
	{"Knative", "knative", "alice", "knative passphrase, long enough", "knative"},
	{"Kata", "kata", "bob", "kata passphrase, long enough too", "kata"},
}

func newMultiFixture(t *testing.T) *multiFixture {
	t.Helper()
	ctx := context.Background()
	f := &multiFixture{fprs: map[string]string{}, keyFiles: map[string]string{}}
	files := map[string]string{
		"secgate.toml": `# A gateway of two projects.
[gateway]
domain = "example.org"
data_dir = "data"
projects = "projects"

[imap]
address = "imap.example.org:993"
password_file = "imap.pass"

[smtp]
address = "smtp.example.org:587"
password_file = "smtp.pass"

[metrics]
listen = ""
`,
		"imap.pass": "pw\n",
		"smtp.pass": "pw\n",
	}
	for _, p := range multiProjects {
		files["projects/"+p.short+".pass"] = p.pass + "\n"
		files["projects/"+p.short+".toml"] = fmt.Sprintf(`[project]
name = %q

[gateway]
team = "security@%[2]s.example"

[team_key]
passphrase_file = "%[2]s.pass"

[imap]
user = "security@%[2]s.example"

[smtp]
user = "security@%[2]s.example"

[[distlist.member]]
name = %[3]q
address = "%[3]s@%[2]s.example"
key_file = "%[3]s.asc"
role = "lead"

[[distlist.list]]
name = "embargo"
kind = "embargo"

[[distlist.list]]
name = "announce"
kind = "public"

[schedule]
policy = %[4]q
`, p.display, p.short, p.member, p.policy)
	}
	f.dir = writeTree(t, files)
	f.cfg = filepath.Join(f.dir, "secgate.toml")
	for _, who := range []string{"alice@knative", "bob@kata", "erin@kata"} {
		name, _, _ := strings.Cut(who, "@")
		k, err := crypto.GenerateKey(name, who+".example", crypto.GenerateOptions{Algorithm: "x25519", Created: keysCreated})
		if err != nil {
			t.Fatal(err)
		}
		arm, err := k.ArmorPublic()
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(f.dir, "projects", name+".asc")
		if err := os.WriteFile(path, []byte(arm), 0o644); err != nil {
			t.Fatal(err)
		}
		f.fprs[name] = k.Fingerprint()
		f.keyFiles[name] = path
	}
	for _, p := range multiProjects {
		f.ok(t, "init", "-project", p.short)
	}
	set, err := LoadProjects(f.cfg)
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range multiProjects {
		cfg := set.Project(p.short)
		team, err := crypto.LoadPrivateKey(cfg.TeamKey.Path, []byte(p.pass))
		if err != nil {
			t.Fatal(err)
		}
		f.fprs["team "+p.short] = team.Fingerprint()
		db, err := store.Open(ctx, cfg.Gateway.Database)
		if err != nil {
			t.Fatal(err)
		}
		clk := clock.NewFake(fixtureTime)
		d := distlist.NewDirectory(db, clk, nil)
		dc := cfg.packageDistlist()
		if _, err := d.Sync(ctx, dc); err != nil {
			t.Fatal(err)
		}
		ob, err := distlist.NewOutbox(ctx, distlist.OutboxOptions{DB: db, Directory: d, TeamKey: team, Config: dc, Clock: clk})
		if err != nil {
			t.Fatal(err)
		}
		w, err := cases.New(cases.Options{DB: db, Directory: d, Outbox: ob, TeamKey: team, TeamAddress: cfg.Gateway.Team,
			Clock: clk, Config: cfg.Cases})
		if err != nil {
			t.Fatal(err)
		}
		for n := range 2 - i {
			err = db.Tx(ctx, func(tx *sql.Tx) error {
				c, err := w.OpenCase(ctx, tx, cases.Report{MessageID: fmt.Sprintf("<r%d@%s.example.net>", n, p.short), From: "rita@example.net",
					Subject: "report to " + p.display, Text: "SECRET-REPORT-TEXT of " + p.display, Encrypted: true, Received: fixtureTime})
				if err != nil {
					return err
				}
				team, err := d.Team(ctx)
				if err != nil {
					return err
				}
				_, err = ob.Enqueue(ctx, tx, distlist.Mail{Kind: "team-copy", CaseID: c.ID, NoticeID: "copy-" + c.Ref,
					Content: crypto.Content{Subject: "[" + c.Ref + "] copy", From: cfg.Gateway.Team,
						Entity: []byte("Content-Type: text/plain; charset=utf-8\r\n\r\ncopy\r\n")},
					Encrypt: true, Recipients: []distlist.Recipient{{Name: team[0].Name, Address: team[0].Address, Key: team[0].Key}}})
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
		}
		db.Close()
	}
	return f
}

// run runs secgate with the fixture's configuration.
func (f *multiFixture) run(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	return runCLI(t, nil, append(args, "-config", f.cfg)...)
}

func (f *multiFixture) ok(t *testing.T, args ...string) string {
	t.Helper()
	code, stdout, stderr := f.run(t, args...)
	if code != 0 {
		t.Fatalf("secgate %s: exit %d, stderr %q, stdout:\n%s", strings.Join(args, " "), code, stderr, stdout)
	}
	return stdout
}

// scrub replaces fingerprints and the directory for golden files.
func (f *multiFixture) scrub(s string) string {
	for who, fpr := range f.fprs {
		s = strings.ReplaceAll(s, fpr, "<FPR "+who+">")
		s = strings.ReplaceAll(s, fpr[len(fpr)-16:], "<FPR "+who+">")
	}
	s = strings.ReplaceAll(s, f.dir, "<DIR>")
	// Key expiry dates and times of day move with the real clock.
	s = regexp.MustCompile(`\d{4}-\d\d-\d\d \d\d:\d\d UTC`).ReplaceAllString(s, "<TIME>")
	// Columns were padded to the real values (a temporary directory's
	// length varies): a gap is two spaces, however wide.
	return regexp.MustCompile(` {2,}`).ReplaceAllString(s, "  ")
}

// TestProjectCommands: with two projects every listing command shows both,
// each row or section naming its project; -project shows one as a single
// project's gateway does; a command on one thing takes the project from
// the case reference when only one project has it, and otherwise says to
// pass -project.
func TestProjectCommands(t *testing.T) {
	f := newMultiFixture(t)

	t.Run("project list and show", func(t *testing.T) {
		golden(t, "project_list", f.scrub(f.ok(t, "project", "list")))
		golden(t, "project_show", f.scrub(f.ok(t, "project", "show", "kata")))
		var got []projectJSON
		decodeJSON(t, f.ok(t, "project", "list", "-json"), &got)
		if len(got) != 2 || got[0].Name != "kata" || *got[0].Cases != 1 || got[1].Name != "knative" || *got[1].Cases != 2 ||
			got[0].Fingerprint != f.fprs["team kata"] || got[1].Fingerprint != f.fprs["team knative"] {
			t.Errorf("project list -json: %+v", got)
		}
		code, _, stderr := f.run(t, "project", "show", "nope")
		mustFail(t, code, stderr, "-project nope: "+f.cfg+" has no such project (2 projects: kata, knative)")
	})

	t.Run("config check", func(t *testing.T) {
		golden(t, "config_check_projects", f.scrub(f.ok(t, "config", "check")))
		var got checkResult
		decodeJSON(t, f.ok(t, "config", "check", "-json"), &got)
		if !got.OK || len(got.Projects) != 2 || got.Projects[1].Project != "knative" || got.Projects[1].Fingerprint != f.fprs["team knative"] {
			t.Errorf("config check -json: %+v", got)
		}
		out := f.ok(t, "config", "check", "-project", "kata")
		if !strings.Contains(out, "== project kata") || strings.Contains(out, "== project knative") {
			t.Errorf("config check -project kata:\n%s", out)
		}
	})

	t.Run("lists show every project", func(t *testing.T) {
		golden(t, "case_list_projects", f.scrub(f.ok(t, "case", "list")))
		golden(t, "outbox_projects", f.scrub(f.ok(t, "outbox")))
		out := f.ok(t, "case", "list", "-project", "kata")
		if strings.Contains(out, "PROJECT") || strings.Count(out, "SEC-2030-") != 1 {
			t.Errorf("case list -project kata:\n%s", out)
		}
		var got []caseJSON
		decodeJSON(t, f.ok(t, "case", "list", "-json"), &got)
		if len(got) != 3 || got[0].Project != "kata" || got[2].Project != "knative" {
			t.Errorf("case list -json: %+v", got)
		}
		if out := f.ok(t, "quarantine", "list"); out != "quarantine is empty\n" {
			t.Errorf("quarantine list: %q", out)
		}
		out = f.ok(t, "list", "show")
		for _, want := range []string{"== project kata (security@kata.example) ==", "== project knative (security@knative.example) ==", "embargo"} {
			if !strings.Contains(out, want) {
				t.Errorf("list show lacks %q:\n%s", want, out)
			}
		}
		out = f.ok(t, "key", "check", "-through", "2031-01-01")
		if !strings.Contains(out, "team key security@kata.example") || !strings.Contains(out, f.fprs["bob"]) ||
			!strings.Contains(out, "team key security@knative.example") || !strings.Contains(out, f.fprs["alice"]) {
			t.Errorf("key check:\n%s", out)
		}
		var verify map[string]auditVerifyJSON
		decodeJSON(t, f.ok(t, "audit", "verify", "-json"), &verify)
		if len(verify) != 2 || !verify["kata"].Verified || !verify["knative"].Verified || verify["kata"].TeamKey != f.fprs["team kata"] {
			t.Errorf("audit verify -json: %+v", verify)
		}
	})

	t.Run("one thing", func(t *testing.T) {
		// SEC-2030-0002 is knative's alone.
		out := f.ok(t, "case", "show", "sec-2030-0002")
		if !strings.Contains(out, "project:        knative (security@knative.example)") {
			t.Errorf("case show of knative's own case:\n%s", out)
		}
		code, _, stderr := f.run(t, "case", "show", "SEC-2030-0001")
		mustFail(t, code, stderr, "case SEC-2030-0001 is in projects kata and knative: pass -project NAME")
		code, _, stderr = f.run(t, "case", "show", "SEC-2030-0009")
		mustFail(t, code, stderr, "no case SEC-2030-0009 in any of the 2 projects")
		out = f.ok(t, "case", "show", "SEC-2030-0001", "-project", "kata")
		if !strings.Contains(out, "bob") || strings.Contains(out, "alice") || strings.Contains(out, "project:") {
			t.Errorf("case show -project kata:\n%s", out)
		}
		out = f.ok(t, "outbox", "-case", "SEC-2030-0002")
		if strings.Contains(out, "PROJECT") || !strings.Contains(out, "alice@knative.example") || strings.Contains(out, "bob@") {
			t.Errorf("outbox -case of knative's case:\n%s", out)
		}
		for _, args := range [][]string{
			{"outbox", "show", "1"}, {"outbox", "retry", "1"}, {"quarantine", "show", "1"}, {"key", "import", f.keyFiles["erin"]},
			{"list", "add", "embargo", "erin@kata.example"}, {"backup", filepath.Join(f.dir, "b.db")}, {"template", "render", "ack"},
			{"audit", "sign"},
		} {
			code, _, stderr := f.run(t, args...)
			mustFail(t, code, stderr, f.cfg+" serves 2 projects (kata, knative): pass -project NAME")
		}
		code, _, stderr = f.run(t, "case", "list", "-project", "nope")
		mustFail(t, code, stderr, "-project nope: ")
	})

	t.Run("isolation", func(t *testing.T) {
		// A key imported into kata is kata's alone.
		f.ok(t, "key", "import", f.keyFiles["erin"], "-project", "kata", "-list", "embargo", "-address", "erin@kata.example")
		if out := f.ok(t, "key", "show", "erin@kata.example", "-project", "kata"); !strings.Contains(out, f.fprs["erin"]) {
			t.Errorf("key show in kata:\n%s", out)
		}
		code, _, stderr := f.run(t, "key", "show", "erin@kata.example", "-project", "knative")
		mustFail(t, code, stderr, "no member or list entry erin@kata.example")
		out := f.ok(t, "list", "show", "embargo")
		kata, knative, _ := strings.Cut(out, "== project knative")
		if !strings.Contains(kata, "erin@kata.example") || strings.Contains(knative, "erin@") {
			t.Errorf("list show embargo:\n%s", out)
		}
		// Each project's texts name it and its own address.
		out = f.ok(t, "template", "render", "ack", "-project", "kata")
		if !strings.Contains(out, "Kata Product Security Team <security@kata.example>") || strings.Contains(out, "native") {
			t.Errorf("template render -project kata:\n%s", out)
		}
	})
}

// TestProjectSingleFile: a configuration and a database made as before
// there could be several projects work as they did: one project, named
// from [project] name, whose database is where it always was.
func TestProjectSingleFile(t *testing.T) {
	f := newFixture(t)
	out := f.ok(t, false, "project", "list")
	if !strings.Contains(out, "example  security@example.org  "+f.fprs["team"]+"  "+filepath.Join(f.dir, "data", "secgate.db")+"  knative  1") {
		t.Errorf("project list of a single file:\n%s", out)
	}
	if out := f.ok(t, false, "case", "list", "-project", "example"); !strings.Contains(out, f.ref) || strings.Contains(out, "PROJECT") {
		t.Errorf("case list -project example:\n%s", out)
	}
	code, _, stderr := f.runNoKey(t, "case", "list", "-project", "kata")
	mustFail(t, code, stderr, "-project kata: "+f.cfg+" has no such project (1 project: example)")
	code, _, stderr = runCLI(t, nil, "init", "-config", f.cfg, "-project", "example")
	mustFail(t, code, stderr, "is one project's configuration, not a gateway of several")
}

// TestServeProjectsBadInput: serve checks every project before it starts
// any: a project whose key cannot be unlocked, or that holds another's team
// key, stops it at once with one line naming the project (the first in
// order when several fail, though they are unlocked at the same time).
func TestServeProjectsBadInput(t *testing.T) {
	f := newMultiFixture(t)
	kata := filepath.Join(f.dir, "projects", "kata.pass")
	tests := []struct {
		name  string
		setup func(t *testing.T)
		want  string
	}{
		{"wrong passphrase", func(t *testing.T) {
			if err := os.WriteFile(kata, []byte("not the passphrase at all\n"), 0o600); err != nil {
				t.Fatal(err)
			}
		}, "project kata (" + filepath.Join(f.dir, "projects", "kata.toml") + "): team_key.path " + filepath.Join(f.dir, "data", "projects", "kata", "team-key.asc")},
		{"no passphrase file", func(t *testing.T) {
			if err := os.Remove(kata); err != nil {
				t.Fatal(err)
			}
		}, "project kata: " + filepath.Join(f.dir, "projects", "kata.toml") + ": team_key.passphrase_file: stat " + kata},
		{"another project's key", func(t *testing.T) {
			// kata's key file holds knative's key, with kata's passphrase.
			knative, err := crypto.LoadPrivateKey(filepath.Join(f.dir, "data", "projects", "knative", "team-key.asc"), []byte(multiProjects[0].pass))
			if err != nil {
				t.Fatal(err)
			}
			locked, err := knative.ArmorPrivate([]byte(multiProjects[1].pass))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(kata, []byte(multiProjects[1].pass+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(f.dir, "data", "projects", "kata", "team-key.asc"), []byte(locked), 0o600); err != nil {
				t.Fatal(err)
			}
		}, "project knative (" + filepath.Join(f.dir, "projects", "knative.toml") + "): team_key.path " +
			filepath.Join(f.dir, "data", "projects", "knative", "team-key.asc") + ": team key " + f.fprs["team knative"] + " is also project kata's"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.setup(t)
			code, _, stderr := f.run(t, "serve")
			mustFail(t, code, stderr, tt.want)
			if strings.Contains(stderr, "secgate serving") {
				t.Errorf("serve started: %s", stderr)
			}
		})
	}
	// config check says the same of the shared key.
	code, out, _ := f.run(t, "config", "check")
	if code != 1 || !strings.Contains(out, "knative.toml: team_key.path: team key "+f.fprs["team knative"]+" is also project kata's") {
		t.Errorf("config check: exit %d\n%s", code, out)
	}
	// Neither key unlocks: the projects are unlocked at the same time,
	// and the one line names the first in order, as one after another.
	for _, p := range multiProjects {
		if err := os.WriteFile(filepath.Join(f.dir, "projects", p.short+".pass"), []byte("not the passphrase at all\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	code, _, stderr := f.run(t, "serve")
	mustFail(t, code, stderr, "project kata ("+filepath.Join(f.dir, "projects", "kata.toml")+"): team_key.path ")
	if strings.Contains(stderr, "knative") || strings.Contains(stderr, "secgate serving") {
		t.Errorf("both keys locked: %s", stderr)
	}
}

// TestProjectsMetricsHealth: the gateways of one process share a metrics
// registry, each series labelled with its project and the Go runtime's
// once; /healthz is 200 only while every project is well, and names the
// project whose gateway stopped.
func TestProjectsMetricsHealth(t *testing.T) {
	f := newMultiFixture(t)
	ctx := context.Background()
	set, err := LoadProjects(f.cfg)
	if err != nil {
		t.Fatal(err)
	}
	clk := clock.NewFake(fixtureTime)
	reg := newRegistry()
	var gws []*gateway
	for i, p := range multiProjects {
		cfg := set.Project(p.short)
		key, err := crypto.LoadPrivateKey(cfg.TeamKey.Path, []byte(p.pass))
		if err != nil {
			t.Fatal(err)
		}
		g, err := openGateway(ctx, cfg, gatewayOptions{TeamKey: key, Clock: clk, Metrics: reg})
		if err != nil {
			t.Fatal(err)
		}
		defer g.Close()
		gws = append(gws, g)
		// A second gateway of the same project cannot join the registry.
		if i == 0 {
			if g2, err := openGateway(ctx, cfg, gatewayOptions{TeamKey: key, Clock: clk, Metrics: reg}); err == nil {
				g2.Close()
				t.Error("two gateways of knative registered their metrics")
			}
		}
	}
	srv := httptest.NewServer(metricsHandler(reg, gws))
	defer srv.Close()
	get := func(path string) (int, string) {
		t.Helper()
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	_, m := get("/metrics")
	for _, want := range []string{`secgate_cases{project="knative",state="new"} 2`, `secgate_cases{project="kata",state="new"} 1`,
		`secgate_outbox_messages{project="knative",state="queued"} 2`, `secgate_outbox_messages{project="kata",state="queued"} 1`} {
		if !strings.Contains(m, want) {
			t.Errorf("/metrics lacks %s:\n%s", want, m)
		}
	}
	if n := strings.Count(m, "\ngo_goroutines "); n != 1 {
		t.Errorf("go_goroutines %d times", n)
	}
	code, body := get("/healthz")
	var rep healthReport
	decodeJSON(t, body, &rep)
	if code != 200 || rep.Status != "ok" || len(rep.Projects) != 2 || rep.Components != nil || rep.Projects["kata"].Team != "security@kata.example" {
		t.Errorf("/healthz: %d %s", code, body)
	}
	gws[1].health.stop(errors.New("schedule: internal error: boom"))
	code, body = get("/healthz")
	rep = healthReport{}
	decodeJSON(t, body, &rep)
	stopped := rep.Projects["kata"].Components["gateway"]
	if code != 503 || rep.Status != "unavailable" || rep.Projects["kata"].Status != "unavailable" || rep.Projects["knative"].Status != "ok" ||
		stopped.State != "stopped" || !strings.Contains(stopped.Detail, "boom (the other projects go on") {
		t.Errorf("/healthz with kata stopped: %d %s", code, body)
	}
}
