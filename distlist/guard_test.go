package distlist

import (
	"bytes"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/secgate/secgate/crypto"
	"github.com/secgate/secgate/distlist/smtpsink"
)

// sealedFor builds a real message for rcpt the way Enqueue does.
func sealedFor(t *testing.T, team, rcpt *crypto.Key, addr string) []byte {
	t.Helper()
	s, err := team.Sign(textContent("secret subject", "embargoed body"), t0)
	if err != nil {
		t.Fatal(err)
	}
	ent, err := s.SealFor(rcpt, t0)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := compose(outer{From: "security@example.org", To: addr, Subject: "...", Date: t0, MessageID: "x@example.org"}, ent)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// twoRecipients encrypts to two keys at once, which the crypto API cannot
// do: the guard must catch it if it ever happens.
func twoRecipients(t *testing.T, a, b *crypto.Key, addr string) []byte {
	t.Helper()
	var ents []*openpgp.Entity
	for _, k := range []*crypto.Key{a, b} {
		arm, _ := k.Public().ArmorPublic()
		el, err := openpgp.ReadArmoredKeyRing(strings.NewReader(arm))
		if err != nil {
			t.Fatal(err)
		}
		ents = append(ents, el[0])
	}
	var buf bytes.Buffer
	aw, _ := armor.Encode(&buf, "PGP MESSAGE", nil)
	w, err := openpgp.Encrypt(aw, ents, nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("hello"))
	w.Close()
	aw.Close()
	ent := "Content-Type: multipart/encrypted; protocol=\"application/pgp-encrypted\"; boundary=\"b\"\r\n\r\n" +
		"--b\r\nContent-Type: application/pgp-encrypted\r\n\r\nVersion: 1\r\n\r\n--b\r\nContent-Type: application/octet-stream\r\n\r\n" +
		buf.String() + "\r\n--b--\r\n"
	raw, _ := compose(outer{From: "security@example.org", To: addr, Subject: "...", Date: t0, MessageID: "x@example.org"}, []byte(ent))
	return raw
}

// testRow is a row to addr for the guard: an embargo notice, which must be
// encrypted, or an announcement, which may be clear.
func testRow(addr string, encrypted bool) *job {
	if encrypted {
		return &job{kind: "embargo-notice", caseID: 7, recipient: addr}
	}
	return &job{kind: "announcement", caseID: 7, recipient: addr}
}

func TestGuard(t *testing.T) {
	team := testKey(t, "security@example.org", "x25519", false)
	ka := testKey(t, "alice@distro-a.example", "x25519", false)
	kb := testKey(t, "bob@distro-b.example", "rsa", false)
	kidA, err := ka.EncryptionKeyID(t0)
	if err != nil {
		t.Fatal(err)
	}
	const a = "alice@distro-a.example"
	good := sealedFor(t, team, ka, a)
	signedOnly, _ := team.Sign(textContent("secret subject", "embargoed body"), t0)
	clearEnt, err := signedOnly.Entity()
	if err != nil {
		t.Fatal(err)
	}
	clear, _ := compose(outer{From: "security@example.org", To: a, Subject: "...", Date: t0, MessageID: "x@e"}, clearEnt)
	tests := []struct {
		name    string
		raw     []byte
		encrypt bool
		keyID   uint64
		ok      bool
	}{
		{"sealed to the recipient", good, true, kidA, true},
		{"sealed to someone else", sealedFor(t, team, kb, a), true, kidA, false},
		{"signed but not encrypted", clear, true, kidA, false},
		{"signed, public row", clear, false, 0, true},
		{"two PKESKs", twoRecipients(t, ka, kb, a), true, kidA, false},
		{"Cc added", []byte("Cc: eve@x.example\r\n" + string(good)), true, kidA, false},
		{"Bcc added on public row", []byte("Bcc: eve@x.example\r\n" + string(clear)), false, 0, false},
		{"second To", []byte("To: eve@x.example\r\n" + string(good)), true, kidA, false},
		{"To lists two", bytes.Replace(clear, []byte("To: "+a), []byte("To: "+a+", eve@x.example"), 1), false, 0, false},
		{"To is someone else", sealedFor(t, team, ka, "eve@x.example"), true, kidA, false},
		{"bare LF", append(bytes.Clone(good), "oops\n"...), true, kidA, false},
		{"real subject outside", bytes.Replace(good, []byte("Subject: ..."), []byte("Subject: RCE in parser"), 1), true, kidA, false},
		{"plain text", []byte("From: a@b\r\nTo: " + a + "\r\nSubject: ...\r\n\r\nthe embargoed text\r\n"), true, kidA, false},
		{"no key ID", good, true, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := guard(tt.raw, testRow(a, tt.encrypt), tt.keyID)
			if (err == nil) != tt.ok {
				t.Fatalf("guard = %v, want ok=%v", err, tt.ok)
			}
		})
	}
}

// TestGuardStopsTamperedRow changes a stored row to clear text: the guard
// refuses it, nothing reaches the server, the row fails, and an event says
// it is a bug.
func TestGuardStopsTamperedRow(t *testing.T) {
	e := newEnv(t, smtpsink.Options{}, nil)
	ka := testKey(t, "alice@distro-a.example", "x25519", false)
	e.enqueue(Mail{Kind: "embargo-notice", NoticeID: "t", Encrypt: true, Content: textContent("s", "b"),
		Recipients: []Recipient{{Address: "alice@distro-a.example", Key: ka.Public()}}})
	if _, err := e.db.Writer().Exec(`UPDATE outbox_message SET raw = ? WHERE outbox_id = (SELECT id FROM outbox WHERE notice_id = 't')`,
		[]byte("From: security@example.org\r\nTo: alice@distro-a.example\r\nSubject: ...\r\n\r\nembargoed text\r\n")); err != nil {
		t.Fatal(err)
	}
	e.drain()
	r := e.rows("t")["alice@distro-a.example"]
	if r.State != StateFailed || !strings.Contains(r.Reply, "guard") {
		t.Fatalf("%+v", r)
	}
	if n := len(e.sink.Messages()); n != 0 {
		t.Fatalf("sink got %d messages", n)
	}
	if ev := e.Events(); len(ev) != 1 || ev[0].Kind != EventGuard {
		t.Fatalf("events %+v", ev)
	}
}

// TestKeyRecheckedBeforeSending: a key revoked or replaced by an expired
// copy after enqueue stops the row right before sending.
func TestKeyRecheckedBeforeSending(t *testing.T) {
	e := newEnv(t, smtpsink.Options{}, nil)
	ka := testKey(t, "alice@distro-a.example", "x25519", false)
	e.enqueue(Mail{Kind: "embargo-notice", NoticeID: "k", Encrypt: true, Content: textContent("s", "b"),
		ValidThrough: t0.Add(48 * time.Hour), Recipients: []Recipient{{Address: "alice@distro-a.example", Key: ka.Public()}}})
	// The key is fine at enqueue; two years later it would have to be valid
	// through the notice date, which it is, but we move the clock past the
	// ValidThrough and make the stored key one that expired.
	old := testKey(t, "alice@distro-a.example", "x25519", true)
	arm := armorPub(t, old)
	if _, err := e.db.Writer().Exec(`UPDATE dir_key SET armored = ? WHERE fingerprint = ?`, string(arm), ka.Fingerprint()); err != nil {
		t.Fatal(err)
	}
	e.drain()
	r := e.rows("k")["alice@distro-a.example"]
	if r.State != StateFailed || !strings.Contains(r.Reply, "not sent") {
		t.Fatalf("%+v", r)
	}
	if len(e.sink.Messages()) != 0 {
		t.Fatal("a message went out")
	}
	if ev := e.Events(); len(ev) != 1 || ev[0].Kind != EventKeyInvalid {
		t.Fatalf("events %+v", ev)
	}
}

// FuzzGuard feeds arbitrary bytes to the guard: it must never panic, and it
// must never pass an encrypted row that lacks exactly one PKESK for the key.
func FuzzGuard(f *testing.F) {
	team := testKey(f, "security@example.org", "x25519", false)
	ka := testKey(f, "alice@distro-a.example", "x25519", false)
	kid, _ := ka.EncryptionKeyID(t0)
	s, _ := team.Sign(textContent("s", "b"), t0)
	ent, _ := s.SealFor(ka, t0)
	good, _ := compose(outer{From: "security@example.org", To: "alice@distro-a.example", Subject: "...", Date: t0, MessageID: "x@e"}, ent)
	f.Add(good, true)
	f.Add([]byte("To: alice@distro-a.example\r\n\r\nhi\r\n"), false)
	f.Fuzz(func(t *testing.T, raw []byte, encrypt bool) {
		err := guard(raw, testRow("alice@distro-a.example", encrypt), kid)
		if err == nil && encrypt && !bytes.Contains(raw, []byte("multipart/encrypted")) {
			t.Fatal("guard passed an encrypted row that is not multipart/encrypted")
		}
	})
}

// TestGuardStreams shows the guard reads a big sealed message as a stream:
// it passes, and what it allocates is a small fraction of the message.
func TestGuardStreams(t *testing.T) {
	team := testKey(t, "security@example.org", "x25519", false)
	alice := testKey(t, "alice@distro-a.example", "x25519", false)
	body := strings.Repeat("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef01234567\r\n", 8<<20/74)
	s, err := team.Sign(crypto.Content{Subject: "big", Entity: []byte("Content-Type: text/plain\r\n\r\n" + body)}, t0)
	if err != nil {
		t.Fatal(err)
	}
	ent, err := s.SealFor(alice.Public(), t0)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := compose(outer{From: "security@example.org", To: "alice@distro-a.example", Subject: "...", Date: t0, MessageID: "x@e"}, ent)
	if err != nil {
		t.Fatal(err)
	}
	kid, _ := alice.EncryptionKeyID(t0)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	err = guard(raw, testRow("alice@distro-a.example", true), kid)
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatal(err)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > uint64(len(raw))/8 {
		t.Errorf("guard of a %d-byte message allocated %d bytes, want at most an eighth of it", len(raw), alloc)
	}
}
