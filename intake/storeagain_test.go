package intake

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/secgate/secgate/store"
)

// TestStoreAgain: a new message is inserted; the same UID fetched again
// names its row and inserts nothing; the same bytes under a new
// UIDVALIDITY follow the row to its new place. (Storing tries the insert
// first and looks the message up only when it inserted nothing.)
func TestStoreAgain(t *testing.T) {
	ctx := context.Background()
	db, err := store.Open(ctx, filepath.Join(t.TempDir(), "again.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	now := time.Unix(1.8e9, 0)
	a := []byte("From: a@example.org\r\nMessage-ID: <a@example.org>\r\n\r\nA\r\n")
	b := []byte("From: b@example.org\r\nMessage-ID: <b@example.org>\r\n\r\nB\r\n")
	store1 := func(uidValidity, uid uint32, raw []byte) int64 {
		t.Helper()
		ids, err := storeBatch(ctx, db, plainRest{}, "INBOX", uidValidity, []fetched{{uid: uid, size: int64(len(raw)), raw: raw}}, now)
		if err != nil || len(ids) != 1 || ids[0] == 0 {
			t.Fatalf("store uid %d/%d: %v %v", uidValidity, uid, ids, err)
		}
		return ids[0]
	}
	place := func(id int64) (uidValidity, uid uint32, n int) {
		t.Helper()
		if err := db.Reader().QueryRowContext(ctx, `SELECT uidvalidity, uid, (SELECT count(*) FROM inbound) FROM inbound WHERE id = ?`, id).Scan(&uidValidity, &uid, &n); err != nil {
			t.Fatal(err)
		}
		return
	}
	first := store1(1, 1, a)
	for _, tt := range []struct {
		name             string
		uidValidity, uid uint32
		raw              []byte
		same             bool // the row of a
		wantV, wantU     uint32
		rows             int
	}{
		{"same uid again", 1, 1, a, true, 1, 1, 1},
		{"new message", 1, 2, b, false, 1, 2, 2},
		{"same bytes, new uidvalidity", 2, 7, a, true, 2, 7, 2},
		{"same uid in the new uidvalidity", 2, 7, a, true, 2, 7, 2},
	} {
		t.Run(tt.name, func(t *testing.T) {
			id := store1(tt.uidValidity, tt.uid, tt.raw)
			if (id == first) != tt.same {
				t.Errorf("row %d, the first message's %d: want the same %v", id, first, tt.same)
			}
			if v, u, n := place(id); v != tt.wantV || u != tt.wantU || n != tt.rows {
				t.Errorf("row %d at %d/%d, %d rows; want %d/%d, %d rows", id, v, u, n, tt.wantV, tt.wantU, tt.rows)
			}
		})
	}
}
