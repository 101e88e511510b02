package distlist

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net"
	"net/mail"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/secgate/secgate/crypto"
	"github.com/secgate/secgate/distlist/smtpsink"
	"github.com/secgate/secgate/internal/clock"
	"github.com/secgate/secgate/internal/gpgtest"
	"github.com/secgate/secgate/internal/mailstack"
	"github.com/secgate/secgate/store"
)

// queuedAs finds Postfix's queue ID in its reply to DATA.
var queuedAs = regexp.MustCompile(`queued as ([0-9A-Za-z]+)`)

// TestSmarthostNextHopDown sends an embargo notice through a local Postfix
// used as a smarthost (the deployment README's "Through a local Postfix"):
// the gateway submits, Postfix relays to its relayhost, and the relayhost
// is down at first. The outbox's rows are sent at Postfix's 250, whose
// queue IDs they record; Postfix keeps every message in its queue, deferred
// for the refused connection, with the row's VERP sender; once the next hop
// listens and the queue is flushed, every message arrives there exactly once,
// as the gateway wrote it (only Postfix's Received field added), encrypted to
// its recipient alone: each opens with its recipient's key, one with gpg,
// and the team's signature verifies. Postfix down at submission is the
// outbox's own retry (TestConnectionRefused, TestDeferredThenSent).
func TestSmarthostNextHopDown(t *testing.T) {
	ctx := context.Background()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	next := ln.Addr().String() // the relayhost: nothing listens there yet
	ln.Close()
	stack := mailstack.Start(t, mailstack.Options{Users: []string{"security"}, RelayHost: next})
	now := time.Now()

	team, err := crypto.GenerateKey("Security Team", stack.Addr("security"), crypto.GenerateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	db, err := store.Open(ctx, filepath.Join(t.TempDir(), "gw.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	dir := NewDirectory(db, clock.Real{}, nil)
	if err := dir.CreateList(ctx, nil, "embargo", KindEmbargo, SourceConfig); err != nil {
		t.Fatal(err)
	}
	// Distributors at a foreign domain, which Postfix relays: five with
	// keys of their own, one whose client is gpg.
	keys := map[string]*crypto.Key{}
	for i := 1; i <= 5; i++ {
		addr := fmt.Sprintf("distro%d@distros.example", i)
		k, err := crypto.GenerateKey(fmt.Sprintf("Distributor %d", i), addr, crypto.GenerateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		keys[addr] = k
		if _, err := dir.AddRecipient(ctx, nil, "embargo", RecipientSpec{Name: fmt.Sprintf("Distributor %d", i), Address: addr, Key: armorPub(t, k)}); err != nil {
			t.Fatal(err)
		}
	}
	const gpgAddr = "distro6@distros.example"
	gpg := gpgtest.New(t)
	gpgFpr := gpg.GenKey("Distributor 6 <"+gpgAddr+">", "ed25519")
	gpg.Import(armorPub(t, team))
	if _, err := dir.AddRecipient(ctx, nil, "embargo", RecipientSpec{Name: "Distributor 6", Address: gpgAddr, Key: gpg.Export(gpgFpr)}); err != nil {
		t.Fatal(err)
	}

	ob, err := NewOutbox(ctx, OutboxOptions{DB: db, Directory: dir, TeamKey: team, Clock: clock.Real{}, Config: Config{
		From: "Security Team <" + stack.Addr("security") + ">",
		SMTP: SMTPConfig{Addr: stack.SubmissionAddr, TLS: TLSNone, User: stack.Addr("security"), Password: stack.Password, Parallel: 2},
	}})
	if err != nil {
		t.Fatal(err)
	}
	list, err := dir.List(ctx, "embargo")
	if err != nil || len(list.Recipients) != 6 {
		t.Fatalf("list: %+v %v", list, err)
	}
	const text = "Public disclosure: 2026-12-15 16:00 UTC. Through the smarthost."
	err = db.Tx(ctx, func(tx *sql.Tx) error {
		sk, err := ob.Enqueue(ctx, tx, Mail{Kind: "embargo-notice", CaseID: 7, NoticeID: "SEC-2026-0007/embargo/1",
			Encrypt: true, Auto: true, ValidThrough: now.Add(21 * 24 * time.Hour), Recipients: list.Recipients,
			Content: crypto.Content{Subject: "[SEC-2026-0007] Embargoed", From: "Security Team <" + stack.Addr("security") + ">",
				Entity: []byte("Content-Type: text/plain; charset=utf-8\r\n\r\n" + text + "\r\n")}})
		if err == nil && len(sk) > 0 {
			err = fmt.Errorf("skipped %+v", sk)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	began := time.Now()
	if err := ob.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	submitted := time.Since(began)

	// The gateway's job ends at Postfix's 250: every row is sent, with the
	// queue ID Postfix gave it.
	type row struct {
		recipient, msgID, envFrom, queueID string
		raw                                []byte
	}
	byQueueID := map[string]*row{}
	byMsgID := map[string]*row{}
	rs, err := db.Reader().QueryContext(ctx, `SELECT o.recipient, o.message_id, o.env_from, o.state, o.last_code, o.last_reply, m.raw
		FROM outbox o JOIN outbox_message m ON m.outbox_id = o.id`)
	if err != nil {
		t.Fatal(err)
	}
	for rs.Next() {
		r := &row{}
		var state, reply string
		var code int
		if err := rs.Scan(&r.recipient, &r.msgID, &r.envFrom, &state, &code, &reply, &r.raw); err != nil {
			t.Fatal(err)
		}
		m := queuedAs.FindStringSubmatch(reply)
		if state != StateSent || code != 250 || m == nil {
			t.Errorf("row to %s: %s, %d %q; want sent at Postfix's 250 with its queue ID", r.recipient, state, code, reply)
			continue
		}
		r.queueID = m[1]
		byQueueID[r.queueID], byMsgID[r.msgID] = r, r
	}
	rs.Close()
	if len(byQueueID) != 6 {
		t.Fatalf("%d rows sent with a queue ID, want 6", len(byQueueID))
	}

	// Postfix holds every message, deferred: the next hop refuses the
	// connection.
	var q []mailstack.Queued
	deferred := func() bool {
		q = stack.Queue(t)
		n := 0
		for _, m := range q {
			if len(m.Recipients) == 1 && m.Recipients[0].DelayReason != "" {
				n++
			}
		}
		return n == len(byQueueID) && len(q) == n
	}
	for deadline := time.Now().Add(30 * time.Second); !deferred(); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("Postfix's queue: %+v; want the %d messages deferred\n%s", q, len(byQueueID), stack.Logs(20))
		}
	}
	queued := time.Since(began)
	for _, m := range q {
		r := byQueueID[m.ID]
		switch {
		case r == nil:
			t.Errorf("Postfix queues %s, which no row's reply names", m.ID)
		case m.Sender != r.envFrom || m.Recipients[0].Address != r.recipient:
			t.Errorf("queued %s: from %s to %s, want the row's %s to %s", m.ID, m.Sender, m.Recipients[0].Address, r.envFrom, r.recipient)
		case !strings.Contains(m.Recipients[0].DelayReason, "refused"):
			t.Errorf("queued %s: deferred for %q, want the refused connection", m.ID, m.Recipients[0].DelayReason)
		}
	}

	// The next hop comes up; the operator flushes the queue.
	hop, err := smtpsink.Start(smtpsink.Options{Addr: next})
	if err != nil {
		t.Fatalf("the next hop cannot listen on %s: %v", next, err)
	}
	defer hop.Close()
	stack.Flush(t)
	for deadline := time.Now().Add(30 * time.Second); hop.Len() < len(byMsgID) || len(stack.Queue(t)) > 0; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d messages at the next hop, %d still queued\n%s", hop.Len(), len(byMsgID), len(stack.Queue(t)), stack.Logs(20))
		}
	}
	t.Logf("6 rows sent to Postfix in %s, all deferred by %s; delivered %s after the flush",
		submitted.Round(time.Millisecond), queued.Round(time.Millisecond), time.Since(began.Add(queued)).Round(time.Millisecond))
	// The queue is empty: nothing more can arrive.
	got := map[string]int{}
	for _, m := range hop.Messages() {
		msg, err := mail.ReadMessage(bytes.NewReader(m.Data))
		if err != nil {
			t.Fatal(err)
		}
		id := strings.Trim(msg.Header.Get("Message-ID"), "<>")
		got[id]++
		r := byMsgID[id]
		if r == nil {
			t.Errorf("the next hop got %q, which is no row", id)
			continue
		}
		if got[id] > 1 {
			t.Errorf("%s arrived %d times", id, got[id])
			continue
		}
		if len(m.To) != 1 || !strings.EqualFold(m.To[0], r.recipient) || m.From != r.envFrom {
			t.Errorf("%s: envelope %s -> %v, want %s -> %s", id, m.From, m.To, r.envFrom, r.recipient)
		}
		if data := withoutReceived(m.Data); !bytes.Equal(data, r.raw) {
			t.Errorf("%s: Postfix changed more than its Received field:\n%.600s\nwant\n%.600s", id, data, r.raw)
		}
		if r.recipient == gpgAddr {
			res := gpg.Decrypt(pgpMIMEPayload(t, m.Data))
			if res.Err != nil || !res.Has("DECRYPTION_OKAY") || !bytes.Contains(res.Stdout, []byte(text)) {
				t.Errorf("%s: gpg --decrypt: %v\n%s", gpgAddr, res.Err, res.Stderr)
			}
			var encTo []string
			for _, l := range res.Status {
				if strings.HasPrefix(l, "ENC_TO ") {
					encTo = append(encTo, l)
				}
			}
			if len(encTo) != 1 {
				t.Errorf("%s: encrypted to %q, want its key alone", gpgAddr, encTo)
			}
			continue
		}
		o, err := crypto.Open(m.Data, crypto.OpenOptions{Decrypt: keys[r.recipient], Verifiers: []*crypto.Key{team.Public()}})
		kid, _ := keys[r.recipient].EncryptionKeyID(time.Now()) // not now: the keys were made after it, within its second
		if err != nil || !o.Encrypted || len(o.EncryptedTo) != 1 || o.EncryptedTo[0] != kid || o.Signature == nil ||
			o.Signature.Err != nil || o.Signature.Fingerprint != team.Fingerprint() || !bytes.Contains(o.Entity, []byte(text)) {
			t.Errorf("%s: opened with its key: %v %+v", r.recipient, err, o)
		}
	}
	for id, r := range byMsgID {
		if got[id] != 1 {
			t.Errorf("%s (to %s) arrived %d times, want once", id, r.recipient, got[id])
		}
	}
	if n := len(stack.Messages(t, "sink", "INBOX")); n != 0 {
		t.Errorf("%d messages were captured locally instead of relayed", n)
	}
}

// withoutReceived returns raw without the Received fields the relaying
// server put first.
func withoutReceived(raw []byte) []byte {
	for bytes.HasPrefix(raw, []byte("Received:")) {
		_, rest, _ := bytes.Cut(raw, []byte("\r\n"))
		for len(rest) > 0 && (rest[0] == ' ' || rest[0] == '\t') {
			_, rest, _ = bytes.Cut(rest, []byte("\r\n"))
		}
		raw = rest
	}
	return raw
}

// pgpMIMEPayload returns the armored OpenPGP message of a PGP/MIME
// multipart/encrypted message.
func pgpMIMEPayload(t *testing.T, raw []byte) []byte {
	t.Helper()
	m, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	mt, params, err := mime.ParseMediaType(m.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/encrypted" {
		t.Fatalf("Content-Type %q: %v", m.Header.Get("Content-Type"), err)
	}
	mr := multipart.NewReader(m.Body, params["boundary"])
	for {
		p, err := mr.NextPart()
		if err != nil {
			t.Fatalf("no application/octet-stream part: %v", err)
		}
		if strings.HasPrefix(p.Header.Get("Content-Type"), "application/octet-stream") {
			b, err := io.ReadAll(p)
			if err != nil {
				t.Fatal(err)
			}
			return b
		}
	}
}
