package main

import (
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestServeBadInput: serve says what is wrong and where, and exits 1,
// before it touches the network.
func TestServeBadInput(t *testing.T) {
	dir, cfgPath, _ := initDir(t)
	for _, name := range []string{"imap.pass", "smtp.pass"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("pw\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"no config", []string{"serve", "-config", filepath.Join(dir, "missing.toml")}, nil, "secgate init"},
		{"no passphrase", []string{"serve", "-config", cfgPath}, nil, "team_key.passphrase_env"},
		{"wrong passphrase", []string{"serve", "-config", cfgPath}, map[string]string{"SECGATE_PASSPHRASE": "wrong"}, "team_key.path"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, stderr := runCLI(t, tt.env, tt.args...)
			if code != 1 || !strings.Contains(stderr, tt.want) || strings.Contains(stderr, "goroutine") {
				t.Errorf("exit %d, stderr %q; want 1 and %q", code, stderr, tt.want)
			}
		})
	}
}

// TestServeTakenPort: a listener that cannot bind is the operator's to fix:
// serve stops at once with one clear line, before it logs that it serves
// (it used to run on without /healthz and /metrics).
func TestServeTakenPort(t *testing.T) {
	dir, cfgPath, _ := initDir(t)
	for _, name := range []string{"imap.pass", "smtp.pass"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("pw\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	for _, key := range []string{"listen", "push_listen"} {
		t.Run(key, func(t *testing.T) {
			b, err := os.ReadFile(cfgPath)
			if err != nil {
				t.Fatal(err)
			}
			line := regexp.MustCompile(`(?m)^` + key + ` = ".*"$`)
			if len(line.FindAllString(string(b), -1)) != 1 {
				t.Fatalf("the configuration has no one %s line", key)
			}
			cfg := line.ReplaceAllLiteralString(string(b), key+` = "`+taken.Addr().String()+`"`)
			path := filepath.Join(dir, key+".toml")
			if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			code, _, stderr := runCLI(t, map[string]string{"SECGATE_PASSPHRASE": testPass}, "serve", "-config", path)
			if code != 1 || !strings.Contains(stderr, "cannot listen on "+taken.Addr().String()) || strings.Contains(stderr, "secgate serving") {
				t.Errorf("exit %d, stderr %q; want 1 and the taken address", code, stderr)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("serve took %s to give up", d)
			}
		})
	}
}
