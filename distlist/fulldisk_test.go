package distlist

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/secgate/secgate/distlist/smtpsink"
	"github.com/secgate/secgate/store"
)

// TestFullDiskSendsNothing: while the database cannot be written (a full
// disk), the outbox sends nothing: a claim that cannot be committed dials
// no server, and the rows stay queued, unmarked. When space returns the
// rows go out, each once.
func TestFullDiskSendsNothing(t *testing.T) {
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs (needs root, as CI has): %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", "-l", dir).Run() })
	ctx := context.Background()
	e := newEnvAt(t, filepath.Join(dir, "gw.db"), smtpsink.Options{}, nil)
	var rcpts []Recipient
	for i := range 3 {
		addr := fmt.Sprintf("d%d@distro.example", i)
		rcpts = append(rcpts, Recipient{Address: addr, Key: testKey(t, addr, "x25519", false).Public()})
	}
	e.enqueue(Mail{Kind: "embargo-notice", NoticeID: "full", Encrypt: true, Content: textContent("s", "b"), Recipients: rcpts})

	// The disk fills up, until the database cannot take even a small row.
	filler := filepath.Join(dir, "filler")
	f, err := os.Create(filler)
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
	for i := 0; i < 500; i++ {
		if err := e.db.Probe(ctx); err != nil && store.IsStorageError(err) {
			break
		}
		if _, err := e.db.Writer().ExecContext(ctx, `INSERT INTO inbound_answer (sender, kind, at) VALUES (?, 'fill', 0)`,
			fmt.Sprintf("%d-%s", i, make([]byte, 4<<10))); err != nil && store.IsStorageError(err) {
			break
		}
	}
	if err := e.ob.Flush(ctx); err == nil {
		t.Fatal("Flush succeeded on a full disk")
	}
	if n := len(e.sink.Messages()); n != 0 {
		t.Errorf("%d messages reached the server while the outbox could not record them", n)
	}
	for addr, r := range e.rows("full") {
		if r.State != StateQueued || r.Attempts != 0 {
			t.Errorf("%s: %s after %d attempts, want queued and unmarked", addr, r.State, r.Attempts)
		}
	}

	os.Remove(filler)
	if _, err := e.db.Writer().ExecContext(ctx, `DELETE FROM inbound_answer WHERE kind = 'fill'`); err != nil {
		t.Fatal(err)
	}
	if err := e.ob.Flush(ctx); err != nil {
		t.Fatalf("Flush once space returned: %v", err)
	}
	if n := len(e.sink.Messages()); n != 3 {
		t.Errorf("%d messages sent once space returned, want 3", n)
	}
}
