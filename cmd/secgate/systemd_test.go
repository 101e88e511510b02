package main

import (
	"bufio"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestSystemdExample runs the README's `secgate init` line for a service
// under a temporary root and checks the result against the README's unit:
// everything the gateway writes (database, key, data directory) is under
// its ReadWritePaths, since ProtectSystem=strict makes the rest read-only,
// and serve's -config is the file init wrote.
func TestSystemdExample(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	section := string(readme)
	if i := strings.Index(section, "## Install and deploy"); i >= 0 {
		section = section[i:]
	}
	initLine := regexp.MustCompile(`(?m)^secgate init (.*)$`).FindStringSubmatch(section)
	unit := regexp.MustCompile("(?s)```ini\n(.*?)```").FindStringSubmatch(section)
	if initLine == nil || unit == nil {
		t.Fatal("the README's Install and deploy has no `secgate init` line or no systemd unit")
	}
	keys := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(unit[1]))
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), "="); ok && !strings.HasPrefix(k, "#") {
			keys[k] = v
		}
	}
	if keys["ProtectSystem"] != "strict" || keys["ReadWritePaths"] == "" {
		t.Fatalf("the unit does not sandbox the file system as this test expects: %v", keys)
	}
	execConfig := regexp.MustCompile(`-config (\S+)`).FindStringSubmatch(keys["ExecStart"])
	if execConfig == nil {
		t.Fatalf("ExecStart names no -config: %q", keys["ExecStart"])
	}

	// The machine, under root: absolute paths of the README move under it.
	root := t.TempDir()
	at := func(p string) string { return filepath.Join(root, p) }
	args := strings.Fields(initLine[1])
	for i, a := range args {
		if strings.HasPrefix(a, "/") {
			args[i] = at(a)
		}
	}
	writable := strings.Fields(keys["ReadWritePaths"])
	for _, d := range append([]string{filepath.Dir(execConfig[1])}, writable...) {
		if err := os.MkdirAll(at(d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for i := range args[:len(args)-1] {
		if args[i] == "-passphrase-file" {
			if err := os.WriteFile(args[i+1], []byte(testPass+"\n"), 0o400); err != nil {
				t.Fatal(err)
			}
		}
	}
	code, _, stderr := runCLI(t, nil, append([]string{"init"}, args...)...)
	if code != 0 {
		t.Fatalf("secgate init %s: exit %d, %s", strings.Join(args, " "), code, stderr)
	}
	cfg, err := LoadConfig(at(execConfig[1]))
	if err != nil {
		t.Fatalf("serve's -config %s: %v", execConfig[1], err)
	}
	under := func(p string) bool {
		for _, w := range writable {
			if rel, err := filepath.Rel(at(w), p); err == nil && !strings.HasPrefix(rel, "..") {
				return true
			}
		}
		return false
	}
	for what, p := range map[string]string{"gateway.data_dir": cfg.Gateway.DataDir, "gateway.database": cfg.Gateway.Database,
		"the database's directory (WAL, journal)": filepath.Dir(cfg.Gateway.Database), "team_key.path": cfg.TeamKey.Path} {
		if !under(p) {
			t.Errorf("%s %s is outside ReadWritePaths %v: the service could not write it", what, p, writable)
		}
	}
	if cfg.Schedule.ArtifactsDir != "" && !under(cfg.Schedule.ArtifactsDir) {
		t.Errorf("schedule.artifacts_dir %s is outside ReadWritePaths", cfg.Schedule.ArtifactsDir)
	}
	if _, err := os.Stat(cfg.TeamKey.PassphraseFile); err != nil {
		t.Errorf("team_key.passphrase_file: %v", err)
	}
}
