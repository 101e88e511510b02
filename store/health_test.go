package store

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// smallDisk mounts a tmpfs of size bytes on a fresh directory, or skips
// when this process may not mount (the test needs root, as CI has).
func smallDisk(t *testing.T, size string) string {
	t.Helper()
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size, "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs (needs root): %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", "-l", dir).Run() })
	return dir
}

// fill writes a file until the disk is full and returns a function that
// removes it.
func fill(t *testing.T, dir string) func() {
	t.Helper()
	path := filepath.Join(dir, "filler")
	f, err := os.Create(path)
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
	return func() { os.Remove(path) }
}

// TestFullDisk: a full disk is a storage error, remembered until a write
// succeeds again; the database works again once space returns.
func TestFullDisk(t *testing.T) {
	dir := smallDisk(t, "4m")
	ctx := context.Background()
	db, err := Open(ctx, filepath.Join(dir, "gw.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Probe(ctx); err != nil {
		t.Fatalf("probe on a fresh disk: %v", err)
	}
	free := fill(t, dir)
	var perr error
	for i := 0; i < 200 && perr == nil; i++ {
		// The WAL may hold a few pages; write until it needs more.
		perr = db.Tx(ctx, func(tx *sql.Tx) error {
			_, err := tx.ExecContext(ctx, `INSERT INTO inbound_answer (sender, kind, at) VALUES (?, 'x', 0)`, fmt.Sprintf("%08d%s", i, make([]byte, 8<<10)))
			return err
		})
	}
	if perr == nil || !IsStorageError(perr) {
		t.Fatalf("writes on a full disk: %v, want a storage error", perr)
	}
	if since, err := db.WriteHealth(); !IsStorageError(err) || since.IsZero() {
		t.Errorf("WriteHealth after the failure: %v since %v", err, since)
	}
	if err := db.Probe(ctx); err == nil {
		t.Error("probe on a full disk succeeded")
	}
	free()
	if err := db.Probe(ctx); err != nil {
		t.Fatalf("probe once space returned: %v", err)
	}
	if _, err := db.WriteHealth(); err != nil {
		t.Errorf("WriteHealth after space returned: %v", err)
	}
}
