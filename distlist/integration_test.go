package distlist

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"mime"
	"net/mail"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/secgate/secgate/crypto"
	"github.com/secgate/secgate/internal/clock"
	"github.com/secgate/secgate/internal/gpgtest"
	"github.com/secgate/secgate/internal/mailstack"
	"github.com/secgate/secgate/store"
)

// TestEmbargoNoticeRealStack sends an embargo notice through real Postfix
// submission into real Dovecot mailboxes: three distributors with valid
// keys get it, each decrypts and verifies it with gpg as themselves, no
// mailbox shows another distributor's address or key ID, and the fourth,
// whose key expired, gets nothing and is reported to the caller.
func TestEmbargoNoticeRealStack(t *testing.T) {
	ctx := context.Background()
	stack := mailstack.Start(t, mailstack.Options{Users: []string{"security", "distro1", "distro2", "distro3", "distro4"}})
	now := time.Now()

	team, err := crypto.GenerateKey("Security Team", stack.Addr("security"), crypto.GenerateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	teamPub := armorPub(t, team)

	db, err := store.Open(ctx, filepath.Join(t.TempDir(), "gw.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	dir := NewDirectory(db, clock.Real{}, nil)
	if err := dir.CreateList(ctx, nil, "embargo", KindEmbargo, SourceConfig); err != nil {
		t.Fatal(err)
	}

	type distro struct {
		user, addr string
		gpg        *gpgtest.GPG
		encKeyID   string // long key ID of the encryption subkey, upper-case hex
		fpr        string
	}
	var distros []*distro
	algos := []string{"ed25519", "rsa3072", "ed25519"}
	for i := 1; i <= 3; i++ {
		d := &distro{user: fmt.Sprintf("distro%d", i), addr: stack.Addr(fmt.Sprintf("distro%d", i)), gpg: gpgtest.New(t)}
		d.fpr = d.gpg.GenKey(fmt.Sprintf("Distributor %d <%s>", i, d.addr), algos[i-1])
		d.gpg.Import(teamPub)
		pub := d.gpg.Export(d.fpr)
		if _, err := dir.AddRecipient(ctx, nil, "embargo", RecipientSpec{Name: fmt.Sprintf("Distributor %d", i), Address: d.addr, Key: pub}); err != nil {
			t.Fatal(err)
		}
		k, err := crypto.ParsePublicKey(pub)
		if err != nil {
			t.Fatal(err)
		}
		kid, err := k.EncryptionKeyID(time.Now())
		if err != nil {
			t.Fatal(err)
		}
		d.encKeyID = fmt.Sprintf("%016X", kid)
		distros = append(distros, d)
	}
	expired, err := crypto.GenerateKey("Distributor 4", stack.Addr("distro4"), crypto.GenerateOptions{
		Created: now.AddDate(-2, 0, 0), Lifetime: 365 * 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if w, err := dir.AddRecipient(ctx, nil, "embargo", RecipientSpec{Name: "Distributor 4", Address: stack.Addr("distro4"), Key: armorPub(t, expired)}); err != nil || len(w) == 0 {
		t.Fatalf("expired key: warnings %v, err %v", w, err)
	}

	ob, err := NewOutbox(ctx, OutboxOptions{DB: db, Directory: dir, TeamKey: team, Clock: clock.Real{}, Config: Config{
		From: "Security Team <" + stack.Addr("security") + ">",
		SMTP: SMTPConfig{Addr: stack.SubmissionAddr, TLS: TLSNone, User: stack.Addr("security"), Password: stack.Password, Parallel: 2},
	}})
	if err != nil {
		t.Fatal(err)
	}
	list, err := dir.List(ctx, "embargo")
	if err != nil || len(list.Recipients) != 4 {
		t.Fatalf("list: %+v %v", list, err)
	}
	const subject = "[SEC-2026-0042] Embargoed: heap overflow in the parser"
	var skipped []Skipped
	err = db.Tx(ctx, func(tx *sql.Tx) error {
		skipped, err = ob.Enqueue(ctx, tx, Mail{Kind: "embargo-notice", CaseID: 42, NoticeID: "SEC-2026-0042/embargo/1",
			Encrypt: true, Auto: true, ValidThrough: now.Add(21 * 24 * time.Hour), Recipients: list.Recipients,
			Content: crypto.Content{Subject: subject, From: "Security Team <" + stack.Addr("security") + ">",
				Entity: []byte("Content-Type: text/plain; charset=utf-8\r\n\r\nPublic disclosure: 2026-12-15 16:00 UTC.\r\n")}})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(skipped) != 1 || skipped[0].Recipient.Address != stack.Addr("distro4") || !strings.Contains(skipped[0].Reason, "expired") {
		t.Fatalf("skipped = %+v, want distro4 with an expired key", skipped)
	}
	if err := ob.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	var sent int
	db.Reader().QueryRow(`SELECT count(*) FROM outbox WHERE state = 'sent'`).Scan(&sent)
	if sent != 3 {
		t.Fatalf("%d rows sent, want 3", sent)
	}

	for _, d := range distros {
		msgs := stack.WaitMessages(t, d.user, "INBOX", 1, 20*time.Second)
		if len(msgs) != 1 {
			t.Fatalf("%s: %d messages, want 1", d.user, len(msgs))
		}
		raw := gpgtest.CRLF(msgs[0])
		for _, o := range distros {
			if o == d {
				continue
			}
			for _, leak := range []string{o.addr, o.encKeyID, o.fpr} {
				if bytes.Contains(bytes.ToUpper(raw), []byte(strings.ToUpper(leak))) {
					t.Errorf("%s: message shows %s of %s", d.user, leak, o.user)
				}
			}
		}
		m, err := mail.ReadMessage(bytes.NewReader(raw))
		if err != nil {
			t.Fatal(err)
		}
		if to, _ := m.Header.AddressList("To"); len(to) != 1 || to[0].Address != d.addr {
			t.Errorf("%s: To %v", d.user, m.Header["To"])
		}
		if m.Header.Get("Subject") != "[...]" || m.Header.Get("Cc") != "" || m.Header.Get("Auto-Submitted") != "auto-generated" {
			t.Errorf("%s: outer header %v", d.user, m.Header)
		}
		_, params, err := mime.ParseMediaType(m.Header.Get("Content-Type"))
		if err != nil {
			t.Fatal(err)
		}
		body := new(bytes.Buffer)
		body.ReadFrom(m.Body)
		_, data := gpgtest.SplitTwo(t, body.Bytes(), params["boundary"])
		_, armored, _ := bytes.Cut(data, []byte("\r\n\r\n"))
		r := d.gpg.Decrypt(armored)
		if r.Err != nil || !r.Has("DECRYPTION_OKAY") {
			t.Fatalf("%s: gpg --decrypt: %v\n%s", d.user, r.Err, r.Stderr)
		}
		var encTo []string
		for _, l := range r.Status {
			if strings.HasPrefix(l, "ENC_TO ") {
				encTo = append(encTo, strings.Fields(l)[1])
			}
		}
		if len(encTo) != 1 || !strings.EqualFold(encTo[0], d.encKeyID) {
			t.Errorf("%s: encrypted to %v, want only %s", d.user, encTo, d.encKeyID)
		}
		inner := r.Stdout
		for _, o := range distros {
			if o != d && (bytes.Contains(inner, []byte(o.addr)) || bytes.Contains(bytes.ToUpper(inner), []byte(o.encKeyID))) {
				t.Errorf("%s: decrypted content shows %s", d.user, o.user)
			}
		}
		ih, ibody, _ := bytes.Cut(inner, []byte("\r\n\r\n"))
		ct := strings.ReplaceAll(string(ih), "\r\n\t", " ")
		ct = strings.ReplaceAll(ct, "\r\n ", " ")
		_, ip, err := mime.ParseMediaType(strings.TrimPrefix(strings.SplitN(ct, "\r\n", 2)[0], "Content-Type: "))
		if err != nil {
			t.Fatalf("%s: inner content type: %v\n%s", d.user, err, ih)
		}
		part, sigPart := gpgtest.SplitTwo(t, ibody, ip["boundary"])
		_, sig, _ := bytes.Cut(sigPart, []byte("\r\n\r\n"))
		v := d.gpg.Verify(part, sig)
		if v.Err != nil || !v.Has("VALIDSIG") {
			t.Fatalf("%s: gpg --verify: %v\n%s", d.user, v.Err, v.Stderr)
		}
		if a := v.Args("VALIDSIG"); a[len(a)-1] != team.Fingerprint() {
			t.Errorf("%s: signed by %s, want the team key", d.user, a[len(a)-1])
		}
		if !bytes.Contains(part, []byte(subject)) || !bytes.Contains(part, []byte("Public disclosure: 2026-12-15 16:00 UTC.")) {
			t.Errorf("%s: signed part lacks the subject or text:\n%s", d.user, part)
		}
		if !bytes.Contains(part, []byte("\r\nHP-Outer: Subject: [...]\r\n")) {
			t.Errorf("%s: signed part does not record the outer Subject (RFC 9788 HP-Outer):\n%s", d.user, part)
		}
	}
	if msgs := stack.Messages(t, "distro4", "INBOX"); len(msgs) != 0 {
		t.Errorf("distro4 got %d messages", len(msgs))
	}

	// A permanent refusal by the real Postfix: an unknown local mailbox.
	err = db.Tx(ctx, func(tx *sql.Tx) error {
		_, err := ob.Enqueue(ctx, tx, Mail{Kind: "sender-notice", NoticeID: "unknown-user", Content: textContent("s", "b"),
			Recipients: []Recipient{{Address: stack.Addr("nobody")}}})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := ob.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	rows, err := ob.Rows(ctx, RowFilter{NoticeID: "unknown-user"})
	if err != nil || len(rows) != 1 || rows[0].State != StateFailed || rows[0].LastCode != 550 {
		t.Fatalf("unknown user: %+v %v", rows, err)
	}
}

// TestKeyValidThroughT0RealStack runs throughT0 through real Postfix
// submission into real Dovecot mailboxes: a distributor whose key expires
// before the notice's T0 is skipped when it is queued; one who shortens
// the key's expiry after that gets nothing when it is sent, nor does one
// whose key expired by then; the team is told of both.
func TestKeyValidThroughT0RealStack(t *testing.T) {
	users := []string{"security"}
	for _, k := range throughKeys {
		users = append(users, k.user)
	}
	stack := mailstack.Start(t, mailstack.Options{Users: users})
	throughT0(t, SMTPConfig{Addr: stack.SubmissionAddr, TLS: TLSNone, User: stack.Addr("security"), Password: stack.Password, Parallel: 1},
		stack.Addr("security"), stack.Addr,
		func(user string, want int) int {
			if want > 0 {
				return len(stack.WaitMessages(t, user, "INBOX", want, 20*time.Second))
			}
			return len(stack.Messages(t, user, "INBOX"))
		})
}
