package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/secgate/secgate/store"
)

func TestBackup(t *testing.T) {
	dir, cfgPath, _ := initDir(t)
	dst := filepath.Join(dir, "copy.db")
	code, stdout, stderr := runCLI(t, nil, "backup", "-config", cfgPath, dst)
	if code != 0 || !strings.Contains(stdout, "written to "+dst) {
		t.Fatalf("backup: exit %d, %q, %q", code, stdout, stderr)
	}
	fi, err := os.Stat(dst)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("backup file: %v, mode %v", err, fi.Mode())
	}
	db, err := store.Open(context.Background(), dst)
	if err != nil {
		t.Fatalf("the backup does not open: %v", err)
	}
	db.Close()

	// Flags after the file name work too; an existing file is never
	// overwritten.
	code, _, stderr = runCLI(t, nil, "backup", dst, "-config", cfgPath)
	if code != 1 || !strings.Contains(stderr, "exists") {
		t.Errorf("backup over an existing file: exit %d, %q", code, stderr)
	}
}

func TestBackupWithoutDatabase(t *testing.T) {
	dir := t.TempDir()
	text, err := os.ReadFile("testdata/config/valid.toml")
	if err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(dir, "secgate.toml")
	os.WriteFile(cfgPath, text, 0o644)
	code, _, stderr := runCLI(t, nil, "backup", "-config", cfgPath, filepath.Join(dir, "b.db"))
	if code != 1 || !strings.Contains(stderr, "run secgate init first") {
		t.Errorf("exit %d, %q", code, stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "data", "secgate.db")); err == nil {
		t.Error("backup created an empty database")
	}
}
