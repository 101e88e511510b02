package main

import (
	"net"
	"os"
	"os/exec"
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
			// The first: [metrics] listen comes before [web] listen.
			loc := regexp.MustCompile(`(?m)^` + key + ` = ".*"$`).FindIndex(b)
			if loc == nil {
				t.Fatalf("the configuration has no %s line", key)
			}
			cfg := string(b[:loc[0]]) + key + ` = "` + taken.Addr().String() + `"` + string(b[loc[1]:])
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

// TestServeDatabaseNotWritable: a database that does not accept writes is
// the operator's to fix: serve stops at once with one line saying so.
func TestServeDatabaseNotWritable(t *testing.T) {
	dir, cfgPath, _ := initDir(t)
	for _, name := range []string{"imap.pass", "smtp.pass"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("pw\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	addTeamAndLists(t, dir, cfgPath)
	cfg, err := LoadConfig(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	// The data directory on a small disk, filled up.
	data := cfg.Gateway.DataDir
	saved := t.TempDir()
	if err := os.CopyFS(saved, os.DirFS(data)); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", data).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs (needs root, as CI has): %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", "-l", data).Run() })
	if err := os.CopyFS(data, os.DirFS(saved)); err != nil {
		t.Fatal(err)
	}
	for path, mode := range map[string]os.FileMode{data: 0o700, cfg.TeamKey.Path: 0o600, cfg.Gateway.Database: 0o600} {
		if err := os.Chmod(path, mode); err != nil {
			t.Fatal(err)
		}
	}
	f, err := os.Create(filepath.Join(data, "filler"))
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64<<10)
	for {
		if _, err := f.Write(buf); err != nil {
			break
		}
	}
	f.Close()
	start := time.Now()
	code, _, stderr := runCLI(t, map[string]string{"SECGATE_PASSPHRASE": testPass}, "serve", "-config", cfgPath)
	if code != 1 || !strings.Contains(stderr, "does not accept writes") || strings.Count(stderr, "\n") != 1 {
		t.Errorf("exit %d, stderr %q; want 1 and one line saying the database does not accept writes", code, stderr)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("serve took %s to give up", d)
	}
}
