package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/secgate/secgate/crypto"
	"github.com/secgate/secgate/store"
)

const testPass = "correct horse battery staple"

// initDir runs secgate init in a fresh directory and returns the config
// path.
func initDir(t *testing.T, args ...string) (dir, cfgPath, stdout string) {
	t.Helper()
	dir = t.TempDir()
	cfgPath = filepath.Join(dir, "secgate.toml")
	env := map[string]string{"SECGATE_PASSPHRASE": testPass}
	code, stdout, stderr := runCLI(t, env, append([]string{"init", "-config", cfgPath, "-domain", "example.org"}, args...)...)
	if code != 0 {
		t.Fatalf("secgate init: exit %d: %s", code, stderr)
	}
	return dir, cfgPath, stdout
}

func TestInitGeneratesKeyAndDatabase(t *testing.T) {
	dir, cfgPath, stdout := initDir(t)
	cfg, err := LoadConfig(cfgPath)
	if err != nil {
		t.Fatalf("the written configuration does not load: %v", err)
	}
	if cfg.Gateway.Team != "security@example.org" || cfg.IMAP.Address != "imap.example.org:993" {
		t.Errorf("config: %+v", cfg.Gateway)
	}
	for path, mode := range map[string]os.FileMode{cfg.TeamKey.Path: 0o600, cfg.Gateway.Database: 0o600, cfg.Gateway.DataDir: 0o700} {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != mode {
			t.Errorf("%s has mode %04o, want %04o", path, fi.Mode().Perm(), mode)
		}
	}
	armored, err := os.ReadFile(cfg.TeamKey.Path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := crypto.ParsePrivateKey(armored, []byte("wrong passphrase")); err == nil {
		t.Error("the stored team key opens with a wrong passphrase: it is not locked")
	}
	key, err := crypto.LoadPrivateKey(cfg.TeamKey.Path, []byte(testPass))
	if err != nil {
		t.Fatalf("load the team key: %v", err)
	}
	if !strings.Contains(stdout, key.Fingerprint()) || !strings.Contains(stdout, "BEGIN PGP PUBLIC KEY BLOCK") {
		t.Errorf("init output lacks the fingerprint %s or the public key:\n%s", key.Fingerprint(), stdout)
	}
	if emails := key.Emails(); len(emails) != 1 || emails[0] != "security@example.org" {
		t.Errorf("key emails %v", emails)
	}
	db, err := store.Open(context.Background(), cfg.Gateway.Database)
	if err != nil {
		t.Fatalf("open the created database: %v", err)
	}
	db.Close()

	// With the password files in place, config check says what is still
	// to do: the team and the lists the scheduler names.
	for _, f := range []string{"imap.pass", "smtp.pass"} {
		os.WriteFile(filepath.Join(dir, f), []byte("pw\n"), 0o600)
	}
	env := map[string]string{"SECGATE_PASSPHRASE": testPass}
	code, out, stderr := runCLI(t, env, "config", "check", "-config", cfgPath)
	for _, want := range []string{"no [[distlist.member]]", `schedule.embargo_list: list "embargo" is not defined`, `schedule.public_lists: list "announce" is not defined`} {
		if code != 1 || !strings.Contains(out, want) {
			t.Errorf("config check of the bare init: exit %d, stdout %q lacks %q", code, out, want)
		}
	}
	if !strings.Contains(stdout, "add the team") {
		t.Errorf("init does not say the team and the lists are still to add:\n%s", stdout)
	}
	// With a member and the two lists it checks out, and shows the policies.
	addTeamAndLists(t, dir, cfgPath)
	code, out, stderr = runCLI(t, env, "config", "check", "-config", cfgPath)
	if code != 0 || !strings.Contains(out, "OK (team key "+key.Fingerprint()+")") || !strings.Contains(out, "knative (default)") {
		t.Errorf("config check: exit %d, stdout %q, stderr %q", code, out, stderr)
	}
	code, out, _ = runCLI(t, map[string]string{"SECGATE_PASSPHRASE": "not the passphrase"}, "config", "check", "-config", cfgPath, "--json")
	var res checkResult
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("config check --json: %v: %q", err, out)
	}
	if code != 1 || res.OK || len(res.Problems) != 1 || !strings.Contains(res.Problems[0], "passphrase") || res.Policies["kata"].MaxNoticeBusinessDays != 5 {
		t.Errorf("config check with a wrong passphrase: exit %d, %+v", code, res)
	}

	// A second init: TestInitAgain.
}

func TestInitRSA(t *testing.T) {
	if testing.Short() {
		t.Skip("RSA key generation is slow")
	}
	_, cfgPath, stdout := initDir(t, "-algo", "rsa", "-bits", "3072", "--json")
	var res initResult
	if err := json.Unmarshal([]byte(stdout), &res); err != nil {
		t.Fatalf("init --json: %v: %q", err, stdout)
	}
	if len(res.Fingerprint) != 40 || res.Imported {
		t.Errorf("init --json: %+v", res)
	}
	cfg, err := LoadConfig(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	key, err := crypto.LoadPrivateKey(cfg.TeamKey.Path, []byte(testPass))
	if err != nil || key.Fingerprint() != res.Fingerprint {
		t.Fatalf("load: %v (fingerprint %s, printed %s)", err, key.Fingerprint(), res.Fingerprint)
	}
}

func TestInitImportsKey(t *testing.T) {
	key, err := crypto.GenerateKey("Team", "security@example.org", crypto.GenerateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	armored, err := key.ArmorPrivate([]byte(testPass))
	if err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(t.TempDir(), "existing.asc")
	if err := os.WriteFile(src, []byte(armored), 0o600); err != nil {
		t.Fatal(err)
	}
	passFile := filepath.Join(t.TempDir(), "pass")
	os.WriteFile(passFile, []byte(testPass+"\n"), 0o600)
	_, cfgPath, stdout := initDir(t, "-import", src, "-passphrase-file", passFile, "--json")
	var res initResult
	if err := json.Unmarshal([]byte(stdout), &res); err != nil {
		t.Fatal(err)
	}
	if !res.Imported || res.Fingerprint != key.Fingerprint() {
		t.Errorf("imported %+v, want fingerprint %s", res, key.Fingerprint())
	}
	cfg, err := LoadConfig(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.TeamKey.PassphraseFile != passFile || cfg.TeamKey.PassphraseEnv != "" {
		t.Errorf("team_key = %+v, want passphrase_file %s", cfg.TeamKey, passFile)
	}
}

func TestInitErrors(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"no domain", map[string]string{"SECGATE_PASSPHRASE": testPass}, nil, "-domain is required"},
		{"bad domain", map[string]string{"SECGATE_PASSPHRASE": testPass}, []string{"-domain", "exa mple"}, "gateway.domain"},
		{"bad algo", map[string]string{"SECGATE_PASSPHRASE": testPass}, []string{"-domain", "example.org", "-algo", "dsa"}, "want x25519 or rsa"},
		{"bad bits", map[string]string{"SECGATE_PASSPHRASE": testPass}, []string{"-domain", "example.org", "-algo", "rsa", "-bits", "2048"}, "want 3072 or 4096"},
		{"no passphrase", nil, []string{"-domain", "example.org"}, "SECGATE_PASSPHRASE is not set"},
		{"short passphrase", map[string]string{"SECGATE_PASSPHRASE": "short"}, []string{"-domain", "example.org"}, "shorter than 12"},
		{"both passphrase flags", nil, []string{"-domain", "example.org", "-passphrase-file", "f", "-passphrase-env", "V"}, "not both"},
		{"missing import", map[string]string{"SECGATE_PASSPHRASE": testPass}, []string{"-domain", "example.org", "-import", "/nonexistent/key.asc"}, "import key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			args := append([]string{"init", "-config", filepath.Join(dir, "secgate.toml")}, tt.args...)
			code, _, stderr := runCLI(t, tt.env, args...)
			if code != 1 || !strings.Contains(stderr, tt.want) {
				t.Errorf("exit %d, stderr %q; want 1 and %q", code, stderr, tt.want)
			}
			if _, err := os.Stat(filepath.Join(dir, "secgate.toml")); err == nil {
				t.Error("a failed init left a configuration file")
			}
		})
	}
}

func TestInitRelativePaths(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	os.WriteFile("pass", []byte(testPass+"\n"), 0o600)
	code, _, stderr := runCLI(t, nil, "init", "-domain", "example.org", "-passphrase-file", "pass")
	if code != 0 {
		t.Fatalf("init: %s", stderr)
	}
	text, err := os.ReadFile("secgate.toml")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`passphrase_file = "pass"`, `passphrase_env = ""`, `database = "data/secgate.db"`} {
		if !strings.Contains(string(text), want) {
			t.Errorf("secgate.toml lacks %s", want)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "data", "team-key.asc")); err != nil {
		t.Error(err)
	}
}

// TestInitAgain: the hints of a second init lead somewhere. Without -force
// it refuses; with -force it rewrites the configuration and keeps the team
// key and the database (they are never overwritten), once the passphrase
// unlocks the key.
func TestInitAgain(t *testing.T) {
	dir, cfgPath, first := initDir(t)
	env := map[string]string{"SECGATE_PASSPHRASE": testPass}
	cfg, err := LoadConfig(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	key, err := os.ReadFile(cfg.TeamKey.Path)
	if err != nil {
		t.Fatal(err)
	}
	code, _, stderr := runCLI(t, env, "init", "-config", cfgPath, "-domain", "example.org")
	if code != 1 || !strings.Contains(stderr, "use -force") {
		t.Fatalf("init again: exit %d, %q; want the -force hint", code, stderr)
	}
	code, stdout, stderr := runCLI(t, env, "init", "-config", cfgPath, "-domain", "example.org", "-force")
	if code != 0 {
		t.Fatalf("init -force: exit %d, %q", code, stderr)
	}
	if again, _ := os.ReadFile(cfg.TeamKey.Path); string(again) != string(key) {
		t.Error("init -force replaced the team key")
	}
	fpr := regexp.MustCompile(`team key ([0-9A-F]{40})`)
	if a, b := fpr.FindStringSubmatch(first), fpr.FindStringSubmatch(stdout); a == nil || b == nil || a[1] != b[1] || !strings.Contains(stdout, "kept the existing team key") {
		t.Errorf("init -force does not say it kept the key:\n%s", stdout)
	}
	code, _, stderr = runCLI(t, map[string]string{"SECGATE_PASSPHRASE": "another long passphrase"}, "init", "-config", cfgPath, "-domain", "example.org", "-force")
	if code != 1 || !strings.Contains(stderr, "does not unlock it") {
		t.Errorf("init -force with another passphrase: exit %d, %q", code, stderr)
	}
	code, _, stderr = runCLI(t, env, "init", "-config", cfgPath, "-domain", "example.org", "-force", "-import", filepath.Join(dir, "other.asc"))
	if code != 1 || !strings.Contains(stderr, "move it away to import another") {
		t.Errorf("init -force -import over a key: exit %d, %q", code, stderr)
	}
}

// TestInitDataDir: -data-dir writes absolute paths for the database and
// the key, so that the configuration can live where a service only reads.
func TestInitDataDir(t *testing.T) {
	root := t.TempDir()
	cfgPath := filepath.Join(root, "etc", "secgate.toml")
	data := filepath.Join(root, "var", "lib", "secgate")
	if err := os.MkdirAll(filepath.Dir(cfgPath), 0o755); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := runCLI(t, map[string]string{"SECGATE_PASSPHRASE": testPass}, "init", "-config", cfgPath, "-domain", "example.org", "-data-dir", data)
	if code != 0 {
		t.Fatalf("init -data-dir: exit %d, %q", code, stderr)
	}
	text, _ := os.ReadFile(cfgPath)
	for _, want := range []string{`data_dir = "` + data + `"`, `database = "` + filepath.Join(data, "secgate.db") + `"`, `path = "` + filepath.Join(data, "team-key.asc") + `"`} {
		if !strings.Contains(string(text), want) {
			t.Errorf("the configuration lacks %s", want)
		}
	}
	for _, f := range []string{"secgate.db", "team-key.asc"} {
		if _, err := os.Stat(filepath.Join(data, f)); err != nil {
			t.Errorf("%s not in the data directory: %v", f, err)
		}
	}
}

// addTeamAndLists adds a lead member (with a key) and the embargo and
// announce lists to the configuration init wrote.
func addTeamAndLists(t *testing.T, dir, cfgPath string) {
	t.Helper()
	k, err := crypto.GenerateKey("Alice", "alice@example.org", crypto.GenerateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pub, err := k.ArmorPublic()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "alice.asc"), []byte(pub), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(cfgPath, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(`
[[distlist.member]]
name = "Alice"
address = "alice@example.org"
key_file = "alice.asc"
role = "lead"

[[distlist.list]]
name = "embargo"
kind = "embargo"

[[distlist.list]]
name = "announce"
kind = "public"
`); err != nil {
		t.Fatal(err)
	}
}
