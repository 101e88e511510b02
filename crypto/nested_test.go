package crypto

import (
	"bytes"
	"encoding/base64"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

// encryptTo encrypts content to the key to, signed by signer when not nil,
// as the binary message go-crypto writes.
func encryptTo(t testing.TB, to, signer *Key, content []byte) []byte {
	t.Helper()
	var signEnt *openpgp.Entity
	if signer != nil {
		signEnt = signer.entity
	}
	var out bytes.Buffer
	w, err := openpgp.Encrypt(&out, []*openpgp.Entity{to.entity}, signEnt, &openpgp.FileHints{IsBinary: true}, baseConfig(t0))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(content); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// packetsInside encrypts the packets bin to the key to as the content of
// the encrypted data itself, with no literal data packet around them.
func packetsInside(t testing.TB, to *Key, bin []byte) []byte {
	t.Helper()
	pub, err := to.restKey()
	if err != nil {
		t.Fatal(err)
	}
	key := sessionKey(32, 0x33)
	var buf bytes.Buffer
	if err := packet.SerializeEncryptedKey(&buf, pub, packet.CipherAES256, key, nil); err != nil {
		t.Fatal(err)
	}
	w, err := packet.SerializeSymmetricallyEncrypted(&buf, packet.CipherAES256, false, packet.CipherSuite{}, key, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(bin); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// armoredIn returns the armored PGP MESSAGE block in msg.
func armoredIn(t testing.TB, msg []byte) []byte {
	t.Helper()
	i := bytes.Index(msg, beginMessage)
	j := bytes.Index(msg, endMessage)
	if i < 0 || j < i {
		t.Fatal("no armored message")
	}
	return msg[i : j+len(endMessage)]
}

func mixed(parts ...string) string {
	s := "Content-Type: multipart/mixed; boundary=\"MIX\"\r\n\r\n"
	for _, p := range parts {
		s += "--MIX\r\n" + p + "\r\n"
	}
	return s + "--MIX--\r\n"
}

// TestNested: the victim's encrypted report wrapped in a second encryption
// to the team key (the attacker's replay) is never decrypted twice: Open
// fails with ErrNested and returns the outer layer's identities for the
// quarantine, never the victim's plaintext. Deeper down (an attachment)
// an encrypted message stays an opaque attachment.
func TestNested(t *testing.T) {
	team := testKey(t, "team")
	alice := testKey(t, "alice")
	mallory := testKey(t, "mallory")
	opts := OpenOptions{Decrypt: team, Verifiers: []*Key{alice.Public(), mallory.Public()}, Now: t0}

	s, err := alice.Sign(Content{Subject: "Report", From: "alice@example.org", Entity: []byte(textEntityCRLF)}, t0)
	if err != nil {
		t.Fatal(err)
	}
	victim, err := s.SealFor(team.Public(), t0) // the multipart/encrypted entity
	if err != nil {
		t.Fatal(err)
	}
	victimArmor := armoredIn(t, victim)
	victimBin, err := dearmor(victimArmor, "PGP MESSAGE")
	if err != nil {
		t.Fatal(err)
	}
	vo, err := Open(outerMessage(victim), opts)
	if err != nil || len(vo.Identities) != 2 {
		t.Fatalf("victim: %v %+v", err, vo)
	}
	signedByMallory := entityOf(t, must(t)(mallory.Sign(Content{Subject: "Fwd", Entity: victim}, t0)))
	pgpmime := func(content []byte, signer *Key) []byte {
		return pgpMIME(mustArmor(t, encryptTo(t, team, signer, content)))
	}
	inline := func(content []byte) []byte {
		return inlineMail(string(mustArmor(t, encryptTo(t, team, nil, content))))
	}
	textPlain := "Content-Type: text/plain; charset=utf-8\r\n\r\n"
	b64 := base64.StdEncoding.EncodeToString(victimBin)

	nested := []struct {
		name string
		msg  []byte
		ids  int // identities of the outer layer
	}{
		{"multipart/encrypted in PGP/MIME", pgpmime(victim, nil), 2},
		{"multipart/encrypted in PGP/MIME signed by the attacker", pgpmime(victim, mallory), 2},
		{"multipart/signed around multipart/encrypted", pgpmime(signedByMallory, nil), 2},
		{"armored in text/plain", pgpmime([]byte(textPlain+string(victimArmor)), nil), 2},
		{"armored with text around it", pgpmime([]byte(textPlain+"see below\r\n\r\n"+string(victimArmor)+"\r\nthanks\r\n"), nil), 2},
		{"armored without a MIME header", pgpmime(victimArmor, nil), 2},
		{"binary as the literal data", pgpmime(victimBin, nil), 2},
		{"binary in application/octet-stream", pgpmime([]byte("Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n"+b64+"\r\n"), nil), 2},
		{"packets in place of the literal data", pgpMIME(mustArmor(t, packetsInside(t, team, victimBin))), 1},
		{"inline in inline", inline(victimArmor), 2},
		{"inline around text with armor", inline([]byte("hello\n\n" + string(victimArmor) + "\n")), 2},
		{"PGP/MIME entity in inline", inline(victim), 2},
		{"binary in inline", inline(victimBin), 2},
	}
	for _, tt := range nested {
		t.Run(tt.name, func(t *testing.T) {
			o, err := Open(tt.msg, opts)
			if !errors.Is(err, ErrNested) {
				t.Fatalf("Open: %v, want ErrNested", err)
			}
			if o == nil || !o.Encrypted || len(o.EncryptedTo) == 0 || o.Entity != nil {
				t.Fatalf("Opened %+v", o)
			}
			if len(o.Identities) != tt.ids {
				t.Fatalf("%d identities, want %d", len(o.Identities), tt.ids)
			}
			for _, id := range o.Identities {
				if slices.ContainsFunc(vo.Identities, func(v []byte) bool { return bytes.Equal(v, id) }) {
					t.Fatal("the victim's layer was decrypted")
				}
			}
		})
	}

	attached := []struct {
		name string
		msg  []byte
	}{
		{"multipart/encrypted attachment", pgpmime([]byte(mixed(textPlain+"see attached", string(victim))), nil)},
		{"armored text attachment", pgpmime([]byte(mixed(textPlain+"see attached", "Content-Type: text/plain; name=\"r.asc\"\r\nContent-Disposition: attachment; filename=\"r.asc\"\r\n\r\n"+string(victimArmor))), nil)},
	}
	for _, tt := range attached {
		t.Run(tt.name, func(t *testing.T) {
			o, err := Open(tt.msg, opts)
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			text, atts, err := TextBody(o.Entity)
			if err != nil || !strings.Contains(text, "see attached") || len(atts) == 0 {
				t.Fatalf("TextBody = %q, %d attachments, %v", text, len(atts), err)
			}
			if bytes.Contains(o.Entity, []byte("embargo ends")) {
				t.Fatal("the attachment was decrypted")
			}
			for _, a := range atts {
				if bytes.Contains(a.Data, []byte("embargo ends")) {
					t.Fatal("the attachment was decrypted")
				}
			}
		})
	}

	// Sign-then-encrypt is one layer: an armored signed (not encrypted)
	// message inside the encryption is verified.
	t.Run("signed message inside", func(t *testing.T) {
		o, err := Open(pgpmime([]byte(textPlain+string(mustArmor(t, signedOnlyPGP(t, alice)))), nil), opts)
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		if o.Signature == nil || o.Signature.Err != nil || o.Signature.Fingerprint != alice.Fingerprint() || len(o.Identities) != 2 {
			t.Fatalf("Opened %+v, signature %+v", o, o.Signature)
		}
	})
}

func must(t testing.TB) func(*Signed, error) *Signed {
	return func(s *Signed, err error) *Signed {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
}

// TestLeadingPackets: packets that go-crypto skips in front of the
// session keys (a signature, a marker) change nothing: the message is
// still encrypted, with the same identities. (A signature packet in front
// once made the message count as not encrypted.)
func TestLeadingPackets(t *testing.T) {
	team := testKey(t, "team")
	alice := testKey(t, "alice")
	bin := encryptTo(t, team, nil, []byte(textEntityCRLF))
	o, err := Open(pgpMIME(mustArmor(t, bin)), OpenOptions{Decrypt: team, Now: t0})
	if err != nil {
		t.Fatal(err)
	}
	var sigPacket []byte
	r := packet.NewReader(bytes.NewReader(signedOnlyPGP(t, alice)))
	for {
		p, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if lit, ok := p.(*packet.LiteralData); ok {
			if _, err := io.Copy(io.Discard, lit.Body); err != nil {
				t.Fatal(err)
			}
		}
		if sp, ok := p.(*packet.Signature); ok {
			var b bytes.Buffer
			if err := sp.Serialize(&b); err != nil {
				t.Fatal(err)
			}
			sigPacket = b.Bytes()
		}
	}
	marker := []byte{0xa8, 0x03, 'P', 'G', 'P'}
	for name, prefix := range map[string][]byte{"signature": sigPacket, "marker": marker} {
		msg := append(slices.Clone(prefix), bin...)
		for _, m := range [][]byte{pgpMIME(mustArmor(t, msg)), inlineMail(string(mustArmor(t, msg)))} {
			got, err := Open(m, OpenOptions{Decrypt: team, Now: t0})
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if !got.Encrypted || !slices.EqualFunc(got.Identities, o.Identities, bytes.Equal) {
				t.Fatalf("%s: Encrypted=%v identities %x, want %x", name, got.Encrypted, got.Identities, o.Identities)
			}
		}
	}
}
