package main

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/secgate/secgate/crypto"
	"github.com/secgate/secgate/internal/mailstack"
)

// serveDir is the directory of a configuration the real-stack serve tests
// generate: a top file for several projects (serveTopConfig), a projects
// directory, the team keys where serve looks for them.
type serveDir struct {
	t   *testing.T
	dir string
}

func newServeDir(t *testing.T) *serveDir { return &serveDir{t: t, dir: t.TempDir()} }

// path is name's path in the directory.
func (d *serveDir) path(name string) string { return filepath.Join(d.dir, name) }

// write writes text to name, making its directories.
func (d *serveDir) write(name, text string, mode os.FileMode) {
	d.t.Helper()
	path := d.path(name)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		d.t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(text), mode); err != nil {
		d.t.Fatal(err)
	}
}

// teamKey writes project name's team key, locked with pass, where serve
// looks for it by default, and the passphrase file its project file
// names ("NAME.pass"); it returns the project's database path.
func (d *serveDir) teamKey(name string, key *crypto.Key, pass string) string {
	d.t.Helper()
	locked, err := key.ArmorPrivate([]byte(pass))
	if err != nil {
		d.t.Fatal(err)
	}
	d.write("data/projects/"+name+"/team-key.asc", locked, 0o600)
	d.write("projects/"+name+".pass", pass+"\n", 0o600)
	return d.path(filepath.Join("data", "projects", name, "secgate.db"))
}

// serveKey is a member's or team's key for a serve test, made an hour ago.
func serveKey(t *testing.T, name, addr string) *crypto.Key {
	t.Helper()
	k, err := crypto.GenerateKey(name, addr, crypto.GenerateOptions{Algorithm: "x25519", Created: time.Now().Add(-time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// serveTopConfig writes secgate.toml and the IMAP and SMTP password files
// for several projects on stack, with short retries: imap and smtp are
// extra lines of those sections (a shared mailbox's user, shared = true),
// tail is appended (more sections). It returns the configuration's path.
func (d *serveDir) serveTopConfig(stack *mailstack.Stack, metrics, imap, smtp, tail string) string {
	d.t.Helper()
	d.write("imap.pass", stack.Password+"\n", 0o600)
	d.write("smtp.pass", stack.Password+"\n", 0o600)
	d.write("secgate.toml", fmt.Sprintf(`# Several projects, one gateway (generated).
[gateway]
domain = %q
data_dir = "data"
projects = "projects"
log_level = "info"

[imap]
address = %q
password_file = "imap.pass"
tls = "plain-loopback"
%s
[smtp]
address = %q
password_file = "smtp.pass"
tls = "plain-loopback"
parallel = 1
%s
[metrics]
listen = %q

[intake]
backoff_min = "50ms"
backoff_max = "500ms"

[distlist]
retry_base = "300ms"
retry_max = "3s"

[schedule]
public_lists = []
retry_delay = "1s"
`, stack.Domain, stack.IMAPAddr, imap, stack.SubmissionAddr, smtp, metrics)+tail, 0o644)
	return d.path("secgate.toml")
}

// servedProjects writes each project's team key, member key and project
// file: one lead member, an embargo list. With ownMailbox a project reads
// its own mailbox (and sends as that user); without, the shared one.
func (d *serveDir) servedProjects(stack *mailstack.Stack, projects []*servedProject, ownMailbox bool) {
	d.t.Helper()
	for _, p := range projects {
		p.team = serveKey(d.t, p.display+" Security Team", stack.Addr(p.mailbox))
		p.memberKey = serveKey(d.t, p.member, stack.Addr(p.member))
		p.database = d.teamKey(p.name, p.team, p.pass)
		d.write("projects/"+p.member+".asc", armorPub(d.t, p.memberKey), 0o644)
		users := ""
		if ownMailbox {
			users = fmt.Sprintf("\n[imap]\nuser = %[1]q\n\n[smtp]\nuser = %[1]q\n", stack.Addr(p.mailbox))
		}
		d.write("projects/"+p.name+".toml", fmt.Sprintf(`[project]
name = %q

[gateway]
team = %q

[team_key]
passphrase_file = "%[3]s.pass"
%[6]s
[[distlist.member]]
name = %[4]q
address = %[5]q
key_file = "%[4]s.asc"
role = "lead"

[[distlist.list]]
name = "embargo"
kind = "embargo"
`, p.display, stack.Addr(p.mailbox), p.name, p.member, stack.Addr(p.member), users), 0o644)
	}
}

// startCheckedServe checks config with secgate config check, then starts
// bin serve with its log in a directory of its own, killed when the test
// ends.
func startCheckedServe(t *testing.T, bin, config string) *serveProc {
	t.Helper()
	if code, out, stderr := runCLI(t, nil, "config", "check", "-config", config); code != 0 {
		t.Fatalf("config check: exit %d\n%s%s", code, out, stderr)
	}
	logs := t.TempDir()
	proc, err := startServe(bin, config, filepath.Join(logs, "serve.log"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(proc.kill)
	return proc
}
