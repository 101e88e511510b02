package distlist

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"mime"
	"net/mail"
	"strings"
	"testing"
	"time"

	"github.com/secgate/secgate/crypto"
	"github.com/secgate/secgate/distlist/smtpsink"
	"github.com/secgate/secgate/internal/testwait"
	"github.com/secgate/secgate/store"
)

func TestEnqueueSendDecrypt(t *testing.T) {
	e := newEnv(t, smtpsink.Options{}, nil)
	ka := testKey(t, "alice@distro-a.example", "x25519", false)
	kb := testKey(t, "bob@distro-b.example", "rsa", false)
	kx := testKey(t, "old@distro-x.example", "x25519", true)
	rcpts := []Recipient{
		{Name: "Distro A", Address: "alice@distro-a.example", Key: ka.Public()},
		{Name: "Distro B", Address: "bob@distro-b.example", Key: kb.Public()},
		{Name: "Distro X", Address: "old@distro-x.example", Key: kx.Public()},
		{Name: "No Key", Address: "nokey@distro-y.example"},
	}
	sk := e.enqueue(Mail{Kind: "embargo-notice", CaseID: 7, NoticeID: "case7/embargo/1", Encrypt: true, Auto: true,
		Content:      textContent("[SEC-2026-0007] Embargoed: RCE in parser", "Public date 2026-12-15 16:00 UTC."),
		ValidThrough: t0.Add(21 * 24 * time.Hour), Recipients: rcpts})
	if len(sk) != 2 || sk[0].Recipient.Address != "old@distro-x.example" || sk[1].Recipient.Address != "nokey@distro-y.example" {
		t.Fatalf("skipped = %+v, want the expired key and the one without key", sk)
	}
	if !strings.Contains(sk[0].Reason, "expired") || sk[1].Reason != "no key" {
		t.Errorf("reasons = %q, %q", sk[0].Reason, sk[1].Reason)
	}
	e.drain()
	rows := e.rows("case7/embargo/1")
	if len(rows) != 2 {
		t.Fatalf("%d rows, want 2", len(rows))
	}
	for _, r := range rows {
		if r.State != StateSent || r.Attempts != 1 || r.Code != 250 {
			t.Errorf("row %s: state %s attempts %d code %d (%s)", r.Recipient, r.State, r.Attempts, r.Code, r.Reply)
		}
	}
	msgs := e.sink.Messages()
	if len(msgs) != 2 {
		t.Fatalf("sink got %d messages, want 2", len(msgs))
	}
	keys := map[string]*crypto.Key{"alice@distro-a.example": ka, "bob@distro-b.example": kb}
	for _, m := range msgs {
		if len(m.To) != 1 {
			t.Fatalf("envelope recipients %v", m.To)
		}
		rcpt := m.To[0]
		row := rows[rcpt]
		if !bytes.Equal(m.Data, row.Raw) {
			t.Errorf("%s: sent bytes differ from the stored row", rcpt)
		}
		if tok := tokenFromAddress(e.ob.cfg.Bounce, m.From); tok == "" {
			t.Errorf("%s: envelope sender %q is not a VERP address", rcpt, m.From)
		}
		msg, err := mail.ReadMessage(bytes.NewReader(m.Data))
		if err != nil {
			t.Fatal(err)
		}
		h := msg.Header
		if h.Get("Subject") != "[...]" || h.Get("Auto-Submitted") != "auto-generated" || h.Get("Cc") != "" || h.Get("Bcc") != "" {
			t.Errorf("%s: outer header %v", rcpt, h)
		}
		if to, _ := h.AddressList("To"); len(to) != 1 || to[0].Address != rcpt {
			t.Errorf("%s: To = %v", rcpt, h["To"])
		}
		if "<"+row.MessageID+">" != h.Get("Message-ID") || strings.Contains(row.MessageID, "case7") {
			t.Errorf("%s: Message-ID %q (row %q)", rcpt, h.Get("Message-ID"), row.MessageID)
		}
		for other := range keys {
			if other != rcpt && bytes.Contains(bytes.ToLower(m.Data), []byte(other)) {
				t.Errorf("%s: message mentions %s", rcpt, other)
			}
		}
		op, err := crypto.Open(m.Data, crypto.OpenOptions{Decrypt: keys[rcpt], Verifiers: []*crypto.Key{e.team.Public()}, Now: t0})
		if err != nil {
			t.Fatalf("%s: open: %v", rcpt, err)
		}
		if !op.Encrypted || len(op.EncryptedTo) != 1 || op.Signature == nil || op.Signature.Err != nil {
			t.Fatalf("%s: opened %+v", rcpt, op)
		}
		if !bytes.Contains(op.Entity, []byte("Public date 2026-12-15")) || !bytes.Contains(op.Entity, []byte("RCE in parser")) {
			t.Errorf("%s: content %q", rcpt, op.Entity)
		}
		// RFC 9788: the protected header records the outer From and
		// Subject as this copy shows them.
		for _, f := range []string{"From", "Subject"} {
			if want := "\r\nHP-Outer: " + f + ": " + h.Get(f) + "\r\n"; !bytes.Contains(op.Entity, []byte(want)) {
				t.Errorf("%s: protected header lacks %q:\n%s", rcpt, want, op.Entity[:bytes.Index(op.Entity, []byte("\r\n\r\n"))])
			}
		}
	}
	// The Message-ID is a function of (notice, recipient) only.
	if a, b := messageID(e.ob.secret, "n", "x@y", "d"), messageID(e.ob.secret, "n", "x@y", "d"); a != b {
		t.Error("message ID not deterministic")
	}
	if c, ok, err := e.ob.CaseForMessageID(context.Background(), "<"+rows["alice@distro-a.example"].MessageID+">"); err != nil || !ok || c != 7 {
		t.Errorf("CaseForMessageID = %d %v %v", c, ok, err)
	}
	if _, ok, _ := e.ob.CaseForMessageID(context.Background(), "<nope@example.org>"); ok {
		t.Error("CaseForMessageID found an unknown ID")
	}
	// Enqueue is idempotent per (notice, recipient): the rows queued first
	// keep their bytes; a recipient new to the notice is added.
	before := e.rows("case7/embargo/1")
	e.enqueue(Mail{Kind: "embargo-notice", NoticeID: "case7/embargo/1", Encrypt: true, Content: textContent("x", "y"), Recipients: rcpts[:2]})
	after := e.rows("case7/embargo/1")
	if len(after) != len(before) {
		t.Errorf("%d rows after a repeated enqueue, want %d", len(after), len(before))
	}
	for a, r := range after {
		if !bytes.Equal(r.Raw, before[a].Raw) || r.ID != before[a].ID || r.State != before[a].State {
			t.Errorf("%s: row or message replaced by a repeated enqueue", a)
		}
	}
}

func TestPublicMailSignedNotEncrypted(t *testing.T) {
	e := newEnv(t, smtpsink.Options{}, nil)
	e.enqueue(Mail{Kind: "announcement", NoticeID: "case7/announce", Content: textContent("Security advisory SEC-2026-0007 – parser", "Fixed in 1.2.3."),
		Recipients: []Recipient{{Name: "Announce", Address: "announce@lists.example"}}, InReplyTo: "abc@example.org"})
	e.drain()
	msgs := e.sink.Messages()
	if len(msgs) != 1 {
		t.Fatalf("%d messages", len(msgs))
	}
	op, err := crypto.Open(msgs[0].Data, crypto.OpenOptions{Verifiers: []*crypto.Key{e.team.Public()}, Now: t0})
	if err != nil || op.Encrypted || op.Signature == nil || op.Signature.Err != nil {
		t.Fatalf("open: %+v %v", op, err)
	}
	msg, _ := mail.ReadMessage(bytes.NewReader(msgs[0].Data))
	dec := new(mime.WordDecoder)
	subj, _ := dec.DecodeHeader(msg.Header.Get("Subject"))
	if subj != "Security advisory SEC-2026-0007 – parser" || msg.Header.Get("In-Reply-To") != "<abc@example.org>" {
		t.Errorf("Subject %q In-Reply-To %q", subj, msg.Header.Get("In-Reply-To"))
	}
	if msg.Header.Get("Auto-Submitted") != "" {
		t.Error("Auto-Submitted on a mail that is not automatic")
	}
}

func TestEnqueueRefusesClearEmbargo(t *testing.T) {
	e := newEnv(t, smtpsink.Options{}, nil)
	err := e.db.Tx(context.Background(), func(tx *sql.Tx) error {
		_, err := e.ob.Enqueue(context.Background(), tx, Mail{Kind: "embargo-notice", NoticeID: "n", Content: textContent("s", "b"),
			Recipients: []Recipient{{Address: "a@b.example"}}})
		return err
	})
	if !errors.Is(err, ErrMustEncrypt) {
		t.Fatalf("err = %v, want ErrMustEncrypt", err)
	}
}

func TestHeaderInjectionRefused(t *testing.T) {
	e := newEnv(t, smtpsink.Options{}, nil)
	for _, m := range []Mail{
		{Kind: "sender-notice", NoticeID: "i1", Content: crypto.Content{From: "x@example.org\r\nBcc: eve@evil.example", Entity: []byte("Content-Type: text/plain\r\n\r\nb\r\n")},
			Recipients: []Recipient{{Address: "a@b.example"}}},
		{Kind: "sender-notice", NoticeID: "i2", Content: textContent("s", "b"), ReplyTo: "a@b.example\r\nBcc: eve@evil.example",
			Recipients: []Recipient{{Address: "a@b.example"}}},
	} {
		err := e.db.Tx(context.Background(), func(tx *sql.Tx) error {
			_, err := e.ob.Enqueue(context.Background(), tx, m)
			return err
		})
		if !errors.Is(err, ErrBadAddress) {
			t.Errorf("%s: err = %v, want ErrBadAddress", m.NoticeID, err)
		}
	}
	// names and subjects are cleaned, not refused
	e.enqueue(Mail{Kind: "sender-notice", NoticeID: "i3", Content: textContent("hi\r\nBcc: eve@evil.example", "b"),
		Recipients: []Recipient{{Name: "Bob\r\nBcc: eve@evil.example", Address: "bob@b.example"}}})
	e.drain()
	msgs := e.sink.Messages()
	if len(msgs) != 1 {
		t.Fatalf("%d messages", len(msgs))
	}
	m, err := mail.ReadMessage(bytes.NewReader(msgs[0].Data))
	if err != nil {
		t.Fatal(err)
	}
	if m.Header.Get("Bcc") != "" {
		t.Errorf("header injected: %v", m.Header)
	}
}

// TestEnqueueBigMessage queues a message bigger than enqueueBudget allows
// to build in parallel: each copy is built, stored (in pieces) and dropped
// in turn; each recipient's row opens for that recipient alone, and what
// is delivered is the stored row, read back from its pieces.
func TestEnqueueBigMessage(t *testing.T) {
	e := newEnv(t, smtpsink.Options{}, nil)
	keys := map[string]*crypto.Key{
		"alice@distro-a.example": testKey(t, "alice@distro-a.example", "x25519", false),
		"bob@distro-b.example":   testKey(t, "bob@distro-b.example", "rsa", false),
		"carol@distro-c.example": testKey(t, "carol@distro-c.example", "x25519", false),
	}
	var rcpts []Recipient
	for a, k := range keys {
		rcpts = append(rcpts, Recipient{Address: a, Key: k.Public()})
	}
	line := "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef01234567\r\n"
	body := strings.Repeat(line, enqueueBudget/2/len(line)) // sealed, more than half the budget: one at a time
	sk := e.enqueue(Mail{Kind: "embargo-notice", NoticeID: "big", Encrypt: true, Content: textContent("big", body),
		ValidThrough: t0.Add(time.Hour), Recipients: rcpts})
	if len(sk) != 0 {
		t.Fatalf("skipped %+v", sk)
	}
	rows := e.rows("big")
	if len(rows) != 3 {
		t.Fatalf("%d rows, want 3", len(rows))
	}
	for a, r := range rows {
		if len(r.Raw) < len(body) {
			t.Fatalf("%s: row of %d bytes for a %d-byte body", a, len(r.Raw), len(body))
		}
		op, err := crypto.Open(r.Raw, crypto.OpenOptions{Decrypt: keys[a], Verifiers: []*crypto.Key{e.team.Public()}, Now: t0})
		if err != nil {
			t.Fatalf("%s: open: %v", a, err)
		}
		if len(op.EncryptedTo) != 1 || op.Signature == nil || op.Signature.Err != nil || !bytes.Contains(op.Entity, []byte(line)) {
			t.Errorf("%s: opened encrypted to %d keys, signature %+v", a, len(op.EncryptedTo), op.Signature)
		}
	}
	var pieces int
	e.db.Reader().QueryRow(`SELECT count(*) FROM blob_chunk WHERE owner = 'outbox'`).Scan(&pieces)
	if pieces < 3*4 {
		t.Errorf("%d pieces stored for three %d-byte rows", pieces, len(rows["alice@distro-a.example"].Raw))
	}
	e.drain()
	msgs := e.sink.Messages()
	if len(msgs) != 3 {
		for a, r := range e.rows("big") {
			t.Logf("%s: %s after %d attempts: %d %s", a, r.State, r.Attempts, r.Code, r.Reply)
		}
		t.Fatalf("sink got %d messages, want 3", len(msgs))
	}
	for _, m := range msgs {
		if !bytes.Equal(m.Data, rows[m.To[0]].Raw) {
			t.Errorf("%s: sent bytes differ from the stored row", m.To[0])
		}
	}
}

// TestV6Recipient: a distributor with an RFC 9580 version 6 key (which gpg
// 2.2 cannot make) gets the notice: the guard matches its session-key
// packet to the key, and the delivered message opens with it.
func TestV6Recipient(t *testing.T) {
	sk, err := crypto.GenerateKey("V6", "v6@distro-a.example", crypto.GenerateOptions{V6: true, Created: t0.Add(-time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	pk := sk.Public()
	e := newEnv(t, smtpsink.Options{}, nil)
	if skipped := e.enqueue(Mail{Kind: "embargo-notice", NoticeID: "v6", Encrypt: true, Content: textContent("s", "embargoed body"),
		ValidThrough: t0.Add(time.Hour), Recipients: []Recipient{{Address: "v6@distro-a.example", Key: pk}}}); len(skipped) != 0 {
		t.Fatalf("skipped %+v", skipped)
	}
	e.drain()
	if r := e.rows("v6")["v6@distro-a.example"]; r.State != StateSent {
		t.Fatalf("row %s: %s", r.State, r.Reply)
	}
	msgs := e.sink.Messages()
	if len(msgs) != 1 {
		t.Fatalf("sink got %d messages", len(msgs))
	}
	o, err := crypto.Open(msgs[0].Data, crypto.OpenOptions{Decrypt: sk, Verifiers: []*crypto.Key{e.team.Public()}, Now: t0})
	if err != nil || o.Signature == nil || o.Signature.Err != nil || !bytes.Contains(o.Entity, []byte("embargoed body")) {
		t.Fatalf("open as the v6 recipient: %v, %+v", err, o)
	}
}

// TestBigMessagesOneAtATime: a message stored in pieces is read and sent
// only while no other is (so two big reports' copies are not in memory
// together); small messages go on meanwhile.
func TestBigMessagesOneAtATime(t *testing.T) {
	e := newEnv(t, smtpsink.Options{}, nil)
	bigKey := testKey(t, "alice@distro-a.example", "x25519", false)
	smallKey := testKey(t, "bob@distro-b.example", "x25519", false)
	body := strings.Repeat("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef01234567\r\n", 2*store.ChunkSize/74)
	e.enqueue(Mail{Kind: "embargo-notice", NoticeID: "big", Encrypt: true, Content: textContent("big", body),
		ValidThrough: t0.Add(time.Hour), Recipients: []Recipient{{Address: "alice@distro-a.example", Key: bigKey.Public()}}})
	e.enqueue(Mail{Kind: "embargo-notice", NoticeID: "small", Encrypt: true, Content: textContent("small", "short"),
		ValidThrough: t0.Add(time.Hour), Recipients: []Recipient{{Address: "bob@distro-b.example", Key: smallKey.Public()}}})
	if raw := e.rows("big")["alice@distro-a.example"].Raw; len(raw) <= store.ChunkSize {
		t.Fatalf("big row of %d bytes is not stored in pieces", len(raw))
	}
	e.ob.big <- struct{}{} // another worker's big message
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.ob.Run(ctx) }()
	defer func() { cancel(); <-done }()
	e.ob.Kick()
	testwait.For(t, "the small message sent", func() bool { return e.sink.Len() == 1 })
	if to := e.sink.Messages()[0].To[0]; to != "bob@distro-b.example" {
		t.Fatalf("sent to %s first, want the small message to bob", to)
	}
	time.Sleep(200 * time.Millisecond) // absence: the big one must still wait
	if n := e.sink.Len(); n != 1 {
		t.Fatalf("%d messages sent while the big one had to wait", n)
	}
	<-e.ob.big
	testwait.For(t, "the big message sent", func() bool { return e.sink.Len() == 2 })
	if to := e.sink.Messages()[1].To[0]; to != "alice@distro-a.example" {
		t.Errorf("second message to %s, want the big one to alice", to)
	}
}
