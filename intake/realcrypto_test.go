package intake

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/secgate/secgate/crypto"
)

// TestGoldenRealStack runs every golden message through the processor
// wired to the real crypto, cases and outbox: whatever the fake OpenPGP in
// the fixtures turns into, each ends processed or quarantined with a reason.
func TestGoldenRealStack(t *testing.T) {
	e := newBenchEnv(t)
	files, err := filepathGlob("testdata/classify/*.eml")
	if err != nil || len(files) < 20 {
		t.Fatalf("fixtures: %v %d", err, len(files))
	}
	ctx := context.Background()
	for i, f := range files {
		raw := readFixture(t, f)
		ids, err := storeBatch(ctx, e.db, e.team, "INBOX", 1, []fetched{{uid: uint32(i + 1), size: int64(len(raw)), raw: raw}}, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if err := e.proc.Process(ctx, ids[0]); err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		in, _ := getInbound(ctx, e.db.Reader(), ids[0])
		if (in.State != StateProcessed && in.State != StateQuarantined) || in.Class == "" || in.Reason == "" {
			t.Errorf("%s ended %s/%s %q", f, in.State, in.Class, in.Reason)
		}
		t.Logf("%-28s %-11s %-15s %s", f, in.State, in.Class, in.Reason)
	}
}

func TestCryptoOpener(t *testing.T) {
	created := time.Now().Add(-time.Hour)
	gen := func(name string) *crypto.Key {
		k, err := crypto.GenerateKey(name, strings.ToLower(name)+"@example.net", crypto.GenerateOptions{Created: created})
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	team, other, signer := gen("Team"), gen("Other"), gen("Signer")
	body := []byte("Content-Type: text/plain; charset=utf-8\r\n\r\nThe report text.\r\n")
	signed, err := signer.Sign(crypto.Content{Subject: "Inner subject", From: "signer@example.net", Entity: body}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	hdr := "From: signer@example.net\r\nTo: security@example.test\r\nSubject: ...\r\nMessage-ID: <x@example.net>\r\nMIME-Version: 1.0\r\n"
	seal := func(to *crypto.Key) []byte {
		b, err := signed.SealFor(to.Public(), time.Now())
		if err != nil {
			t.Fatal(err)
		}
		return append([]byte(hdr), b...)
	}
	ent, err := signed.Entity()
	if err != nil {
		t.Fatal(err)
	}
	signedOnly := append([]byte(hdr), ent...)
	tampered := bytes.Replace(signedOnly, []byte("The report text."), []byte("The report TEXT."), 1)
	signerPub, _ := signer.ArmorPublic()
	o := &CryptoOpener{TeamKey: team}
	now := time.Now()

	op, err := o.Open(context.Background(), seal(team), nil, nil, now)
	if err != nil || !op.Encrypted || !strings.Contains(op.Text, "The report text.") || op.Subject != "Inner subject" {
		t.Fatalf("sealed to the team: %+v %v", op, err)
	}
	if op.SignatureErr == nil || op.Signer != "" {
		t.Errorf("unknown signer accepted: %q %v", op.Signer, op.SignatureErr)
	}
	op, err = o.Open(context.Background(), seal(team), []string{signerPub}, nil, now)
	if err != nil || op.Signer != signer.Fingerprint() || op.SignerKey == "" {
		t.Errorf("signer given as a candidate: %q %v", op.Signer, err)
	}
	_, err = o.Open(context.Background(), seal(other), nil, nil, now)
	var oe *OpenError
	if !errors.As(err, &oe) || !errors.Is(err, ErrWrongKey) || len(oe.KeyIDs) == 0 {
		t.Errorf("sealed to another key: %v", err)
	} else if id, _ := other.EncryptionKeyID(now); oe.KeyIDs[0] != fmt.Sprintf("%016X", id) {
		t.Errorf("key IDs %v, want %016X", oe.KeyIDs, id)
	}
	op, err = o.Open(context.Background(), tampered, []string{signerPub}, nil, now)
	if err != nil || op.Signer != "" || op.SignatureErr == nil {
		t.Errorf("tampered signed mail: signer %q err %v open %v", op.Signer, op.SignatureErr, err)
	}
	op, err = o.Open(context.Background(), signedOnly, []string{signerPub}, nil, now)
	if err != nil || op.Signer != signer.Fingerprint() || op.Encrypted {
		t.Errorf("signed mail: %+v %v", op, err)
	}
}

// TestRealWrongKeyAnswered: a report encrypted to a key we do not hold is
// quarantined with the key ID and answered once, naming the team key.
func TestRealWrongKeyAnswered(t *testing.T) {
	e := newBenchEnv(t)
	other, err := crypto.GenerateKey("Old Team Key", "security@example.test", crypto.GenerateOptions{Created: time.Now().Add(-time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for i := range 2 {
		sealed, err := e.signed.SealFor(other.Public(), time.Now())
		if err != nil {
			t.Fatal(err)
		}
		raw := append([]byte(fmt.Sprintf("From: Reporter <reporter@outside.example>\r\nTo: security@example.test\r\nSubject: ...\r\nMessage-ID: <wk-%d@outside.example>\r\nMIME-Version: 1.0\r\n", i)), sealed...)
		ids, err := storeBatch(ctx, e.db, e.team, "INBOX", 1, []fetched{{uid: uint32(i + 1), size: int64(len(raw)), raw: raw}}, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if err := e.proc.Process(ctx, ids[0]); err != nil {
			t.Fatal(err)
		}
		in, _ := getInbound(ctx, e.db.Reader(), ids[0])
		id, _ := other.EncryptionKeyID(time.Now())
		if in.State != StateQuarantined || in.Class != ClassWrongKey || !strings.Contains(in.Reason, fmt.Sprintf("%016X", id)) {
			t.Errorf("message %d ended %s/%s %q", i, in.State, in.Class, in.Reason)
		}
	}
	var n int
	e.db.Reader().QueryRow(`SELECT count(*) FROM inbound_answer WHERE sender = 'reporter@outside.example' AND kind = 'wrong-key'`).Scan(&n)
	if n != 1 {
		t.Errorf("%d wrong-key answers recorded, want 1", n)
	}
}

// TestRealReplayQuarantined: the same ciphertext sent again from another
// address opens no case, gets the answer any held message gets (which
// names neither the case nor why), and alerts the team.
func TestRealReplayQuarantined(t *testing.T) {
	e := newBenchEnv(t)
	ctx := context.Background()
	sealed, err := e.signed.SealFor(e.team.Public(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	var got []*Inbound
	for i, from := range []string{"victim@outside.example", "attacker@evil.example"} {
		raw := append([]byte(fmt.Sprintf("From: %s\r\nTo: security@example.test\r\nSubject: ...\r\nMessage-ID: <rp-%d@x>\r\nMIME-Version: 1.0\r\n", from, i)), sealed...)
		ids, err := storeBatch(ctx, e.db, e.team, "INBOX", 1, []fetched{{uid: uint32(i + 1), size: int64(len(raw)), raw: raw}}, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if err := e.proc.Process(ctx, ids[0]); err != nil {
			t.Fatal(err)
		}
		in, _ := getInbound(ctx, e.db.Reader(), ids[0])
		got = append(got, in)
	}
	if got[0].Class != ClassReport || got[1].State != StateQuarantined || got[1].Class != ClassReplay || got[1].CaseID != 0 {
		t.Errorf("first %s/%s, second %s/%s %q", got[0].State, got[0].Class, got[1].State, got[1].Class, got[1].Reason)
	}
	var kind string
	e.db.Reader().QueryRow(`SELECT kind FROM inbound_answer WHERE sender = 'attacker@evil.example'`).Scan(&kind)
	if kind != TemplateQuarantined {
		t.Errorf("the replay was answered with %q, want the uniform %q", kind, TemplateQuarantined)
	}
	var raw []byte
	e.db.Reader().QueryRow(`SELECT m.raw FROM outbox o JOIN outbox_message m ON m.outbox_id = o.id WHERE o.recipient = 'attacker@evil.example'`).Scan(&raw)
	if !bytes.Contains(raw, []byte(uniformReason)) || bytes.Contains(raw, []byte("SEC-")) || bytes.Contains(raw, []byte("already")) {
		t.Errorf("the answer to the replay tells more than any held message:\n%s", raw)
	}
}
