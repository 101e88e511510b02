package intake

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"

	"github.com/secgate/secgate/crypto"
	"github.com/secgate/secgate/internal/testwait"
	"github.com/secgate/secgate/store"
)

// spoolKey is a team key, which seals at rest as a stream.
func spoolKey(t testing.TB) *crypto.Key {
	t.Helper()
	k, err := crypto.GenerateKey("Security Team", "security@example.test", crypto.GenerateOptions{Algorithm: "x25519", Created: time.Now().Add(-time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// bigBody is a report body of about n bytes.
func bigBody(n int) string {
	line := "the core dump of the overflow, base64 and all, line after line.\r\n"
	return strings.Repeat(line, n/len(line)+1)
}

// deliverRaw appends raw to the mailbox as an MTA does.
func (s *memServer) deliverRaw(t testing.TB, mailbox string, raw []byte) {
	t.Helper()
	if _, err := s.user.Append(mailbox, literal{bytes.NewReader(raw), int64(len(raw))}, &imap.AppendOptions{}); err != nil {
		t.Fatal(err)
	}
}

// strayPieces counts the spooled pieces no row names.
func strayPieces(t testing.TB, db *store.DB) int {
	t.Helper()
	var n int
	if err := db.Reader().QueryRow(`SELECT count(*) FROM blob_chunk WHERE owner = ? AND id NOT IN (SELECT spool FROM inbound_spool)`, spoolOwner).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// runSpoolPoller is runPollerCtx with the team key sealing at rest.
func runSpoolPoller(t testing.TB, ctx context.Context, cfg Config, db *store.DB, key *crypto.Key, h Handler, hook func(string) error) <-chan struct{} {
	t.Helper()
	p, err := NewPoller(cfg, db, key, h, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	p.hook = hook
	done := make(chan struct{})
	go func() { p.Run(ctx); close(done) }()
	return done
}

// TestPollerSpoolsBigMessage: a message bigger than one piece goes from
// the IMAP literal, sealed at rest, into pieces its row names; what reads
// it back is the message, its hash and Message-ID are the message's; a
// small message is stored as before, in its row; no spooled piece is left
// that no row names.
func TestPollerSpoolsBigMessage(t *testing.T) {
	s, db, rec, cfg := memPoller(t, nil)
	key := spoolKey(t)
	raw := []byte("From: Reporter <reporter@example.net>\r\nTo: security@example.test\r\nSubject: big\r\nMessage-ID: <big@x>\r\n\r\n" + bigBody(3<<20))
	s.deliverRaw(t, "INBOX", raw)
	s.deliver(t, "INBOX", "small@x", "short")
	ctx, cancel := context.WithCancel(context.Background())
	done := runSpoolPoller(t, ctx, cfg, db, key, rec, nil)
	defer func() { cancel(); <-done }()
	testwait.For(t, "both processed", func() bool { return rec.count("big@x") == 1 && rec.count("small@x") == 1 })
	tests := []struct {
		mid    string
		raw    []byte
		pieces bool
	}{
		{"big@x", raw, true},
		{"small@x", nil, false},
	}
	for _, tt := range tests {
		var id int64
		var sum []byte
		var col []byte
		if err := db.Reader().QueryRow(`SELECT i.id, i.sha256, r.raw FROM inbound i JOIN inbound_raw r ON r.inbound_id = i.id WHERE i.message_id = ?`, tt.mid).Scan(&id, &sum, &col); err != nil {
			t.Fatalf("%s: %v", tt.mid, err)
		}
		got, err := rawMessage(context.Background(), db.Reader(), key, id)
		if err != nil {
			t.Fatalf("%s: %v", tt.mid, err)
		}
		if h := sha256.Sum256(got); !bytes.Equal(sum, h[:]) {
			t.Errorf("%s: stored hash is not the message's", tt.mid)
		}
		if tt.raw != nil && !bytes.Equal(got, tt.raw) {
			t.Errorf("%s: read back %d bytes, want the %d delivered", tt.mid, len(got), len(tt.raw))
		}
		var pieces int
		db.Reader().QueryRow(`SELECT count(*) FROM blob_chunk WHERE owner = 'inbound' AND id = ? OR owner = 'inbound-spool' AND id = (SELECT spool FROM inbound_spool WHERE inbound_id = ?)`, id, id).Scan(&pieces)
		if (len(col) == 0) != tt.pieces || (pieces > 0) != tt.pieces {
			t.Errorf("%s: column of %d bytes and %d pieces, want pieces %v", tt.mid, len(col), pieces, tt.pieces)
		}
	}
	if n := strayPieces(t, db); n != 0 {
		t.Errorf("%d spooled pieces left that no row names", n)
	}
}

// TestPollerSpoolCrash: a fetch that died half way leaves spooled pieces
// that no row names (they are deleted when the next session starts, and
// the message, still on the server, is fetched again); a crash once the
// row is stored leaves it stored once; the same message delivered twice is
// stored once, and its second copy's pieces are dropped with it.
func TestPollerSpoolCrash(t *testing.T) {
	for _, crashAt := range []string{"", "stored", "processed"} {
		t.Run("crash at "+crashAt, func(t *testing.T) {
			s, db, rec, cfg := memPoller(t, nil)
			key := spoolKey(t)
			// What a fetch that died half way left.
			_, err := db.Writer().Exec(`INSERT INTO blob_chunk (owner, id, seq, data) VALUES (?, 42, 0, zeroblob(1000)), (?, 42, 1, zeroblob(1000))`, spoolOwner, spoolOwner)
			if err != nil {
				t.Fatal(err)
			}
			for i := range 2 {
				s.deliverRaw(t, "INBOX", []byte(fmt.Sprintf("From: Reporter <reporter@example.net>\r\nSubject: big\r\nMessage-ID: <s%d@x>\r\n\r\n%s", i, bigBody(2<<20))))
			}
			same := []byte("From: Reporter <reporter@example.net>\r\nSubject: again\r\nMessage-ID: <again@x>\r\n\r\n" + bigBody(2<<20))
			s.deliverRaw(t, "INBOX", same)
			s.deliverRaw(t, "INBOX", same)
			if crashAt != "" {
				ctx, kill := context.WithCancel(context.Background())
				<-runSpoolPoller(t, ctx, cfg, db, key, rec, func(step string) error {
					if step == crashAt {
						kill()
						return fmt.Errorf("crash at %s", step)
					}
					return nil
				})
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := runSpoolPoller(t, ctx, cfg, db, key, rec, nil)
			defer func() { cancel(); <-done }()
			// The same bytes twice: the row follows the second copy, and
			// the first stays in the mailbox (as for any message).
			testwait.For(t, "all moved", func() bool { return s.count(t, "INBOX") == 1 && s.count(t, "Processed") == 3 })
			rec.checkOnce(t, "s", 2)
			if n := rec.count("again@x"); n != 1 {
				t.Errorf("the message delivered twice was processed %d times, want once", n)
			}
			var rows, pieces int
			db.Reader().QueryRow(`SELECT count(*) FROM inbound`).Scan(&rows)
			db.Reader().QueryRow(`SELECT count(*) FROM inbound_spool`).Scan(&pieces)
			if rows != 3 || pieces != 3 {
				t.Errorf("%d rows and pieces of %d rows, want 3 and 3", rows, pieces)
			}
			if n := strayPieces(t, db); n != 0 {
				t.Errorf("%d spooled pieces left that no row names", n)
			}
		})
	}
}

// TestOpenStored: the opener reads the stored message once and lets it go
// while it decodes the text and attachments, unless the signer's key came
// inside the encryption: then it reads the message again to verify with
// it. Either way it opens as Open does.
func TestOpenStored(t *testing.T) {
	created := time.Now().Add(-time.Hour)
	team, signer := spoolKey(t), func() *crypto.Key {
		k, err := crypto.GenerateKey("Signer", "signer@example.net", crypto.GenerateOptions{Created: created})
		if err != nil {
			t.Fatal(err)
		}
		return k
	}()
	signerPub, _ := signer.ArmorPublic()
	seal := func(entity string) []byte {
		s, err := signer.Sign(crypto.Content{Subject: "Inner", From: "signer@example.net", Entity: []byte(entity)}, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		b, err := s.SealFor(team.Public(), time.Now())
		if err != nil {
			t.Fatal(err)
		}
		return append([]byte("From: signer@example.net\r\nTo: security@example.test\r\nSubject: ...\r\nMIME-Version: 1.0\r\n"), b...)
	}
	text := "Content-Type: text/plain; charset=utf-8\r\n\r\nThe report text.\r\n"
	withKey := "Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nThe report text.\r\n" +
		"--b\r\nContent-Type: application/pgp-keys\r\nContent-Disposition: attachment; filename=\"signer.asc\"\r\n\r\n" +
		strings.ReplaceAll(signerPub, "\n", "\r\n") + "\r\n--b--\r\n"
	tests := []struct {
		name   string
		raw    []byte
		reads  int
		signer string
	}{
		{"unknown signer, no key inside", seal(text), 1, ""},
		{"the signer's key inside", seal(withKey), 2, signer.Fingerprint()},
	}
	o := &CryptoOpener{TeamKey: team}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reads := 0
			op, err := o.OpenStored(context.Background(), func() ([]byte, error) { reads++; return tt.raw, nil }, nil, nil, time.Now())
			if err != nil || !strings.Contains(op.Text, "The report text.") || op.Signer != tt.signer {
				t.Fatalf("OpenStored: signer %q, %v", op.Signer, err)
			}
			if reads != tt.reads {
				t.Errorf("read the message %d times, want %d", reads, tt.reads)
			}
			want, err := o.Open(context.Background(), tt.raw, nil, nil, time.Now())
			if err != nil || want.Text != op.Text || want.Signer != op.Signer || len(want.Attachments) != len(op.Attachments) {
				t.Errorf("Open gives %+v, %v; OpenStored %+v", want, err, op)
			}
		})
	}
}

// TestSpoolWrongLength: a literal that ends before its announced size (a
// connection cut mid-message) or runs past it is an error, and its pieces
// are deleted at once: nothing of it is left to be taken for the message.
func TestSpoolWrongLength(t *testing.T) {
	db := openDB(t)
	p, err := NewPoller(Config{Address: "127.0.0.1:1", User: "u", PasswordFile: passwordFile(t)}, db, spoolKey(t), newRecorder(db), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	body := []byte(bigBody(2 << 20))
	for _, n := range []int64{int64(len(body)) + 1, int64(len(body)) - 1} {
		if !p.spoolable(n) {
			t.Fatalf("a literal of %d bytes is not spooled", n)
		}
		sp, err := p.spool(context.Background(), literal{bytes.NewReader(body), n})
		if err == nil {
			t.Errorf("literal announced at %d bytes, %d sent: spooled %+v", n, len(body), sp)
		}
		var pieces int
		db.Reader().QueryRow(`SELECT count(*) FROM blob_chunk`).Scan(&pieces)
		if pieces != 0 {
			t.Errorf("literal announced at %d bytes: %d pieces left after a failed spool", n, pieces)
		}
	}
}
