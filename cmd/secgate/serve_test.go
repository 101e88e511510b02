package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
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
