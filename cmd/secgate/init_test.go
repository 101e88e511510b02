package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
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

	// With the password files in place the configuration checks out.
	for _, f := range []string{"imap.pass", "smtp.pass"} {
		os.WriteFile(filepath.Join(dir, f), []byte("pw\n"), 0o600)
	}
	env := map[string]string{"SECGATE_PASSPHRASE": testPass}
	code, out, stderr := runCLI(t, env, "config", "check", "-config", cfgPath)
	if code != 0 || !strings.Contains(out, "OK (team key "+key.Fingerprint()+")") {
		t.Errorf("config check: exit %d, stdout %q, stderr %q", code, out, stderr)
	}
	code, out, _ = runCLI(t, map[string]string{"SECGATE_PASSPHRASE": "not the passphrase"}, "config", "check", "-config", cfgPath, "--json")
	var res checkResult
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("config check --json: %v: %q", err, out)
	}
	if code != 1 || res.OK || len(res.Problems) != 1 || !strings.Contains(res.Problems[0], "passphrase") {
		t.Errorf("config check with a wrong passphrase: exit %d, %+v", code, res)
	}

	// A second init never overwrites anything.
	code, _, stderr = runCLI(t, env, "init", "-config", cfgPath, "-domain", "example.org")
	if code != 1 || !strings.Contains(stderr, "exists; use -force") {
		t.Errorf("second init: exit %d, %q", code, stderr)
	}
	code, _, stderr = runCLI(t, env, "init", "-config", cfgPath, "-domain", "example.org", "-force")
	if code != 1 || !strings.Contains(stderr, "team key") || !strings.Contains(stderr, "never overwritten") {
		t.Errorf("init -force over an existing key: exit %d, %q", code, stderr)
	}
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
