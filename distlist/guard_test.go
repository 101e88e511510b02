package distlist

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/mail"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
	"github.com/secgate/secgate/crypto"
	"github.com/secgate/secgate/distlist/smtpsink"
)

// sealedFor builds a real message for rcpt the way Enqueue does.
func sealedFor(t testing.TB, team, rcpt *crypto.Key, addr string) []byte {
	t.Helper()
	s, err := team.Sign(textContent("secret subject", "embargoed body"), t0)
	if err != nil {
		t.Fatal(err)
	}
	ent, err := s.SealFor(rcpt, t0)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := compose(outer{From: "security@example.org", To: addr, Subject: "[...]", Date: t0, MessageID: "x@example.org"}, ent)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// twoRecipients encrypts to two keys at once, which the crypto API cannot
// do: the guard must catch it if it ever happens.
func twoRecipients(t testing.TB, a, b *crypto.Key, addr string) []byte {
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

// withSubject returns raw with its outer Subject replaced by s.
func withSubject(raw []byte, s string) []byte {
	return bytes.Replace(raw, []byte("\r\nSubject: [...]\r\n"), []byte("\r\nSubject: "+s+"\r\n"), 1)
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
		{"real subject outside", withSubject(good, "RCE in parser"), true, kidA, false},
		// A row queued before the outer Subject became "[...]" still
		// goes out.
		{"subject of older rows", withSubject(good, "..."), true, kidA, true},
		{"real subject after the neutral one", withSubject(good, "[...] RCE in parser"), true, kidA, false},
		{"reply to the neutral subject", withSubject(good, "Re: [...]"), true, kidA, false},
		{"empty subject", withSubject(good, ""), true, kidA, false},
		{"plain text", []byte("From: a@b\r\nTo: " + a + "\r\nSubject: ...\r\n\r\nthe embargoed text\r\n"), true, kidA, false},
		{"no key ID", good, true, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := guard(memMessage(tt.raw), testRow(a, tt.encrypt), tt.keyID)
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

// binaryMessage returns the OpenPGP packets of the armored message in a
// sealed entity.
func binaryMessage(t testing.TB, ent []byte) []byte {
	t.Helper()
	i := bytes.Index(ent, []byte("-----BEGIN PGP MESSAGE-----"))
	if i < 0 {
		t.Fatal("no armored message")
	}
	blk, err := armor.Decode(bytes.NewReader(ent[i:]))
	if err != nil {
		t.Fatal(err)
	}
	bin, err := io.ReadAll(blk.Body)
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

// pgpMIME wraps OpenPGP packets, armored, in a multipart/encrypted message
// to addr.
func pgpMIME(t testing.TB, packets []byte, addr string) []byte {
	t.Helper()
	var buf bytes.Buffer
	aw, err := armor.Encode(&buf, "PGP MESSAGE", nil)
	if err != nil {
		t.Fatal(err)
	}
	aw.Write(packets)
	aw.Close()
	ent := "Content-Type: multipart/encrypted; protocol=\"application/pgp-encrypted\"; boundary=\"b\"\r\n\r\n" +
		"--b\r\nContent-Type: application/pgp-encrypted\r\n\r\nVersion: 1\r\n\r\n--b\r\nContent-Type: application/octet-stream\r\n\r\n" +
		buf.String() + "\r\n--b--\r\n"
	raw, err := compose(outer{From: "security@example.org", To: addr, Subject: "...", Date: t0, MessageID: "x@example.org"}, []byte(ent))
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// encryptedOnlyFor reads raw with other parsers than the guard's (net/mail,
// mime/multipart, go-crypto's packet reader over the whole message) and
// says why it is not multipart/encrypted with exactly one session-key
// packet, for key ID kid, and one encrypted data packet after it.
func encryptedOnlyFor(raw []byte, kid uint64) error {
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return fmt.Errorf("header: %w", err)
	}
	mt, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/encrypted" || params["protocol"] != "application/pgp-encrypted" {
		return fmt.Errorf("Content-Type %q", msg.Header.Get("Content-Type"))
	}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	var parts []string
	var ids []uint64
	data := 0
	for {
		p, err := mr.NextRawPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("multipart: %w", err)
		}
		ct, _, _ := mime.ParseMediaType(p.Header.Get("Content-Type"))
		if parts = append(parts, ct); len(parts) != 2 {
			continue
		}
		blk, err := armor.Decode(p)
		if err != nil {
			return fmt.Errorf("armor: %w", err)
		}
		pr := packet.NewReader(blk.Body)
		for {
			pk, err := pr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				return fmt.Errorf("packets: %w", err)
			}
			switch pk := pk.(type) {
			case *packet.EncryptedKey:
				if data > 0 {
					return errors.New("a session-key packet after the encrypted data")
				}
				ids = append(ids, pk.KeyId)
			case *packet.SymmetricallyEncrypted:
				data++
				io.Copy(io.Discard, pk.Contents)
			case *packet.AEADEncrypted:
				data++
				io.Copy(io.Discard, pk.Contents)
			default:
				return fmt.Errorf("packet %T", pk)
			}
		}
	}
	switch {
	case len(parts) != 2 || parts[0] != "application/pgp-encrypted" || parts[1] != "application/octet-stream":
		return fmt.Errorf("parts %v", parts)
	case len(ids) != 1 || ids[0] != kid:
		return fmt.Errorf("session keys for %X, want one for %X", ids, kid)
	case data != 1:
		return fmt.Errorf("%d encrypted data packets", data)
	}
	return nil
}

// FuzzGuard feeds arbitrary bytes to the guard as rows of every kind: it
// must never panic, and every message it passes for a row that must be
// encrypted must be, read by other parsers than the guard's,
// multipart/encrypted with exactly one session-key packet, for the
// recipient's encryption subkey.
func FuzzGuard(f *testing.F) {
	const addr = "alice@distro-a.example"
	team := testKey(f, "security@example.org", "x25519", false)
	ka := testKey(f, addr, "x25519", false)
	kb := testKey(f, "bob@distro-b.example", "rsa", false)
	kid, err := ka.EncryptionKeyID(t0)
	if err != nil {
		f.Fatal(err)
	}
	s, err := team.Sign(textContent("s", "b"), t0)
	if err != nil {
		f.Fatal(err)
	}
	entA, err := s.SealFor(ka, t0)
	if err != nil {
		f.Fatal(err)
	}
	entB, err := s.SealFor(kb, t0)
	if err != nil {
		f.Fatal(err)
	}
	good, err := compose(outer{From: "security@example.org", To: addr, Subject: "...", Date: t0, MessageID: "x@e"}, entA)
	if err != nil {
		f.Fatal(err)
	}
	if err := encryptedOnlyFor(good, kid); err != nil {
		f.Fatalf("the oracle refuses a good message: %v", err)
	}
	for i := range kindRules {
		f.Add(good, uint8(i), false)
		f.Add([]byte("To: "+addr+"\r\n\r\nhi\r\n"), uint8(i), false)
	}
	f.Add(twoRecipients(f, ka, kb, addr), uint8(0), true)
	// A second message, for someone else, after the recipient's.
	f.Add(pgpMIME(f, append(binaryMessage(f, entA), binaryMessage(f, entB)...), addr), uint8(0), true)
	f.Fuzz(func(t *testing.T, raw []byte, kind uint8, flag bool) {
		k := kindRules[int(kind)%len(kindRules)]
		j := &job{kind: k.kind, caseID: k.caseID, encrypt: flag, recipient: addr}
		if err := guard(memMessage(raw), j, kid); err != nil || !j.mustEncrypt() {
			return
		}
		if err := encryptedOnlyFor(raw, kid); err != nil {
			t.Fatalf("the guard passed a %s (flag %v) that is not encrypted to the recipient alone: %v", k.kind, flag, err)
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
	err = guard(memMessage(raw), testRow("alice@distro-a.example", true), kid)
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatal(err)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > uint64(len(raw))/8 {
		t.Errorf("guard of a %d-byte message allocated %d bytes, want at most an eighth of it", len(raw), alloc)
	}
}
