package crypto

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

// sealedTo signs with team and seals for rcpt; it returns the full message.
func sealedTo(t testing.TB, team, rcpt *Key) []byte {
	t.Helper()
	s, err := team.Sign(Content{Subject: "Report", From: "security@example.org", Entity: []byte(textEntityCRLF)}, t0)
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := s.SealFor(rcpt.Public(), t0)
	if err != nil {
		t.Fatal(err)
	}
	return outerMessage(sealed)
}

func signedBy(t testing.TB, k *Key) []byte {
	t.Helper()
	s, err := k.Sign(Content{Subject: "close SEC-2026-0001", From: "alice@example.org", Entity: []byte(textEntityCRLF)}, t0)
	if err != nil {
		t.Fatal(err)
	}
	return entityOf(t, s)
}

// rawPGP encrypts plain with go-crypto directly, as another client might.
func rawPGP(t testing.TB, to []*Key, signer *Key, cfg *packet.Config, armored bool) []byte {
	t.Helper()
	var ents []*openpgp.Entity
	for _, k := range to {
		ents = append(ents, k.entity)
	}
	var out bytes.Buffer
	var signEnt *openpgp.Entity
	if signer != nil {
		signEnt = signer.entity
	}
	w, err := openpgp.Encrypt(&out, ents, signEnt, &openpgp.FileHints{IsBinary: true}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte(textEntityCRLF))
	w.Close()
	if !armored {
		return out.Bytes()
	}
	a, err := armorBytes("PGP MESSAGE", out.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// tamperArmored flips one bit of the binary message inside an armored block.
func tamperArmored(t testing.TB, msg []byte, at func(n int) int) []byte {
	t.Helper()
	i := bytes.Index(msg, []byte("-----BEGIN PGP MESSAGE-----"))
	j := bytes.Index(msg, []byte("-----END PGP MESSAGE-----")) + len("-----END PGP MESSAGE-----")
	bin, err := dearmor(msg[i:j], "PGP MESSAGE")
	if err != nil {
		t.Fatal(err)
	}
	bin = bytes.Clone(bin)
	bin[at(len(bin))] ^= 0x10
	arm, err := armorBytes("PGP MESSAGE", bin)
	if err != nil {
		t.Fatal(err)
	}
	return append(append(append([]byte{}, msg[:i]...), arm...), msg[j:]...)
}

func TestOpenBadInput(t *testing.T) {
	team := testKey(t, "team")
	alice := testKey(t, "alice")
	opts := OpenOptions{Decrypt: team, Verifiers: []*Key{alice.Public()}, Now: t0}
	sealed := sealedTo(t, alice, team)
	armStart := bytes.Index(sealed, []byte("-----BEGIN PGP MESSAGE-----"))
	armEnd := bytes.Index(sealed, []byte("-----END PGP MESSAGE-----"))

	skesk := func() []byte {
		var out bytes.Buffer
		w, _ := openpgp.SymmetricallyEncrypt(&out, []byte("password"), &openpgp.FileHints{IsBinary: true}, baseConfig(t0))
		w.Write([]byte(textEntityCRLF))
		w.Close()
		a, _ := armorBytes("PGP MESSAGE", out.Bytes())
		return pgpMIME(a)
	}()
	bomb := func() []byte {
		cfg := baseConfig(t0)
		cfg.DefaultCompressionAlgo = packet.CompressionZLIB
		var out bytes.Buffer
		w, _ := openpgp.Encrypt(&out, []*openpgp.Entity{team.entity}, nil, &openpgp.FileHints{IsBinary: true}, cfg)
		w.Write(bytes.Repeat([]byte("A"), 4<<20))
		w.Close()
		a, _ := armorBytes("PGP MESSAGE", out.Bytes())
		return pgpMIME(a)
	}()
	deep := mailHeader
	for i := 0; i < 12; i++ {
		deep += fmt.Sprintf("Content-Type: multipart/mixed; boundary=\"b%d\"\r\n\r\n--b%d\r\n", i, i)
	}
	deep += "Content-Type: text/plain\r\n\r\nhi\r\n"
	many := mailHeader + "Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n" + strings.Repeat("--b\r\nContent-Type: text/plain\r\n\r\nx\r\n", 300) + "--b--\r\n"

	tests := []struct {
		name string
		msg  []byte
		opts OpenOptions
		want error
	}{
		{"empty", nil, opts, ErrNotMIME},
		{"not mime", []byte("hello, this is not a mail\x00\x01"), opts, ErrNotMIME},
		{"binary", []byte{0x85, 0x01, 0x0c, 0x03, 0xff}, opts, ErrNotMIME},
		{"bad content type", []byte("Content-Type: ;;;\r\n\r\nx"), opts, ErrNotMIME},
		{"multipart without boundary", []byte("Content-Type: multipart/mixed\r\n\r\nx"), opts, ErrNotMIME},
		{"truncated ciphertext", append(append([]byte{}, sealed[:armStart+(armEnd-armStart)/2]...), "\r\n-----END PGP MESSAGE-----\r\n\r\n--x--\r\n"...), opts, ErrDecrypt},
		{"tampered ciphertext", tamperArmored(t, sealed, func(n int) int { return n - 30 }), opts, ErrDecrypt},
		{"tampered session key", tamperArmored(t, sealed, func(n int) int { return 20 }), opts, ErrDecrypt},
		{"wrong key", sealedTo(t, alice, testKey(t, "bob")), opts, ErrWrongKey},
		{"no decryption key", sealed, OpenOptions{Now: t0}, ErrWrongKey},
		{"public key only", sealed, OpenOptions{Decrypt: team.Public(), Now: t0}, ErrWrongKey},
		{"password encrypted", skesk, opts, ErrDecrypt},
		{"encrypted part not encrypted", pgpMIME(mustArmor(t, signedOnlyPGP(t, alice))), opts, ErrDecrypt},
		{"three parts", []byte(mailHeader + "Content-Type: multipart/encrypted; protocol=\"application/pgp-encrypted\"; boundary=\"b\"\r\n\r\n--b\r\nContent-Type: application/pgp-encrypted\r\n\r\nVersion: 1\r\n--b\r\n\r\nx\r\n--b\r\n\r\ny\r\n--b--\r\n"), opts, ErrDecrypt},
		{"decompression bomb", bomb, OpenOptions{Decrypt: team, Now: t0, Limits: Limits{MaxDecompressedBytes: 1 << 20}}, ErrTooComplex},
		{"too big", sealed, OpenOptions{Decrypt: team, Now: t0, Limits: Limits{MaxMessageBytes: 100}}, ErrTooComplex},
		{"too deep", []byte(deep), opts, ErrTooComplex},
		{"too many parts", []byte(many), opts, ErrTooComplex},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, err := Open(tt.msg, tt.opts)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Open = %+v, %v; want %v", o, err, tt.want)
			}
			if o != nil && o.Entity != nil {
				t.Fatalf("plaintext returned with error %v:\n%s", err, o.Entity)
			}
		})
	}
}

func signedOnlyPGP(t testing.TB, k *Key) []byte {
	var out bytes.Buffer
	w, err := openpgp.Sign(&out, k.entity, &openpgp.FileHints{IsBinary: true}, baseConfig(t0))
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte(textEntityCRLF))
	w.Close()
	return out.Bytes()
}

func mustArmor(t testing.TB, b []byte) []byte {
	a, err := armorBytes("PGP MESSAGE", b)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestOpenSignatures(t *testing.T) {
	team := testKey(t, "team")
	alice := testKey(t, "alice")
	mallory := testKey(t, "mallory")
	opts := OpenOptions{Decrypt: team, Verifiers: []*Key{alice.Public()}, Now: t0}
	signed := signedBy(t, alice)
	sigPart := signed[bytes.LastIndex(signed, []byte("\r\n--=_"))-0:]
	_ = sigPart
	tamperedSigned := bytes.Replace(signed, []byte("embargo ends Tuesday"), []byte("embargo ends Monday!"), 1)

	wrapped := func(inner []byte, extra string) []byte {
		return []byte(mailHeader + "Content-Type: multipart/mixed; boundary=\"W\"\r\n\r\n--W\r\nContent-Type: text/plain\r\n\r\n" + extra + "\r\n--W\r\n" + string(inner) + "\r\n--W--\r\n")
	}
	forwarded := []byte(mailHeader + "Content-Type: multipart/mixed; boundary=\"F\"\r\n\r\n--F\r\nContent-Type: text/plain\r\n\r\nFYI, see below.\r\n--F\r\nContent-Type: message/rfc822\r\n\r\n" + string(outerMessage(signed)) + "\r\n--F--\r\n")
	clear := string(clearsignedBy(t, alice, "close SEC-2026-0001\n"))
	inlineMsg := func(body string) []byte {
		return []byte(mailHeader + "Content-Type: text/plain; charset=utf-8\r\n\r\n" + body)
	}
	encInline := string(rawPGP(t, []*Key{team}, alice, baseConfig(t0), true))

	tests := []struct {
		name      string
		msg       []byte
		wantSig   bool
		wantErr   error // of the signature
		wantWhole bool
		wantFpr   string
		partial   bool
	}{
		{"signed", outerMessage(signed), true, nil, true, alice.Fingerprint(), false},
		{"signed LF line ends", bytes.ReplaceAll(outerMessage(signed), []byte("\r\n"), []byte("\n")), true, nil, true, alice.Fingerprint(), false},
		{"tampered", outerMessage(tamperedSigned), true, ErrBadSignature, true, alice.Fingerprint(), false},
		{"unknown signer", outerMessage(signedBy(t, mallory)), true, ErrUnknownSigner, true, "", false},
		{"wrapped in mixed", wrapped(signed, "Attacker text"), true, nil, false, alice.Fingerprint(), false},
		{"forwarded", forwarded, false, nil, false, "", false},
		{"clearsigned", inlineMsg(clear), true, nil, true, alice.Fingerprint(), false},
		{"clearsigned with text before", inlineMsg("Please do this:\r\n" + clear), true, nil, false, alice.Fingerprint(), true},
		{"clearsigned with text after", inlineMsg(clear + "\r\nP.S. and this\r\n"), true, nil, false, alice.Fingerprint(), true},
		{"clearsigned in mixed", wrapped([]byte("Content-Type: text/plain\r\n\r\n"+clear), "hi"), true, nil, false, alice.Fingerprint(), false},
		{"inline encrypted signed", inlineMsg(encInline), true, nil, true, alice.Fingerprint(), false},
		{"inline encrypted with text after", inlineMsg(encInline + "\r\n-- \r\nsent from my phone\r\n"), true, nil, false, alice.Fingerprint(), true},
		{"plain", inlineMsg("just text\r\n"), false, nil, false, "", false},
		{"two recipients", pgpMIME(rawPGP(t, []*Key{mallory, team}, alice, baseConfig(t0), true)), true, nil, true, alice.Fingerprint(), false},
		{"combined unknown signer", pgpMIME(rawPGP(t, []*Key{team}, mallory, baseConfig(t0), true)), true, ErrUnknownSigner, true, "", false},
		{"encrypted unsigned", pgpMIME(rawPGP(t, []*Key{team}, nil, baseConfig(t0), true)), false, nil, false, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, err := Open(tt.msg, opts)
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			if o.Partial != tt.partial {
				t.Errorf("Partial = %v", o.Partial)
			}
			if len(o.Entity) == 0 {
				t.Error("no entity")
			}
			if !tt.wantSig {
				if o.Signature != nil {
					t.Fatalf("signature %+v, want none", o.Signature)
				}
				return
			}
			s := o.Signature
			if s == nil {
				t.Fatal("no signature")
			}
			if (tt.wantErr == nil) != (s.Err == nil) || tt.wantErr != nil && !errors.Is(s.Err, tt.wantErr) {
				t.Errorf("signature error %v, want %v", s.Err, tt.wantErr)
			}
			if s.Whole != tt.wantWhole || s.Fingerprint != tt.wantFpr {
				t.Errorf("Whole=%v Fingerprint=%q, want %v %q", s.Whole, s.Fingerprint, tt.wantWhole, tt.wantFpr)
			}
			if s.KeyID == 0 || s.Created.IsZero() {
				t.Errorf("signature %+v lacks key ID or time", s)
			}
			if tt.partial && bytes.Contains(o.Entity, []byte("sent from my phone")) {
				t.Error("unencrypted text merged with decrypted text")
			}
			if !tt.wantWhole && !o.Encrypted && !bytes.Contains(tt.msg, o.Entity[bytes.Index(o.Entity, []byte("\r\n\r\n")):]) {
				t.Error("Entity of a partly signed message is not its whole content")
			}
		})
	}
}

func clearsignedBy(t testing.TB, k *Key, text string) []byte {
	t.Helper()
	var b bytes.Buffer
	w, err := clearsignEncode(&b, k, baseConfig(t0))
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte(text))
	w.Close()
	return canonCRLF(b.Bytes())
}

func TestSignatureExpiredKey(t *testing.T) {
	k, err := GenerateKey("Short", "short@example.org", GenerateOptions{Created: t0, Lifetime: 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	msg := outerMessage(signedBy(t, k))
	o, err := Open(msg, OpenOptions{Verifiers: []*Key{k.Public()}, Now: t0.Add(48 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if !errors.Is(o.Signature.Err, ErrBadSignature) || !errors.Is(o.Signature.Err, ErrExpired) {
		t.Fatalf("signature by expired key: %v", o.Signature.Err)
	}
	// A clock a little ahead is tolerated; far ahead is not.
	if o, _ := Open(msg, OpenOptions{Verifiers: []*Key{k.Public()}, Now: t0.Add(-2 * time.Minute)}); o.Signature.Err != nil {
		t.Errorf("signature 2 minutes ahead: %v", o.Signature.Err)
	}
	if o, _ := Open(msg, OpenOptions{Verifiers: []*Key{k.Public()}, Now: t0.Add(-time.Hour)}); o.Signature.Err == nil {
		t.Error("signature an hour in the future accepted")
	}
}

func TestSignatureIDStable(t *testing.T) {
	alice := testKey(t, "alice")
	msg := outerMessage(signedBy(t, alice))
	o1, err := Open(msg, OpenOptions{Verifiers: []*Key{alice.Public()}, Now: t0})
	if err != nil {
		t.Fatal(err)
	}
	// The same signature re-wrapped (LF line ends, other header) has the same ID.
	o2, err := Open(bytes.ReplaceAll(append([]byte("X-Resent: yes\r\n"), msg...), []byte("\r\n"), []byte("\n")), OpenOptions{Verifiers: []*Key{alice.Public()}, Now: t0})
	if err != nil {
		t.Fatal(err)
	}
	if o1.Signature.ID == "" || o1.Signature.ID != o2.Signature.ID {
		t.Fatalf("IDs %q and %q", o1.Signature.ID, o2.Signature.ID)
	}
	o3, _ := Open(outerMessage(signedBy(t, alice)), OpenOptions{Verifiers: []*Key{alice.Public()}, Now: t0})
	if o3.Signature.ID == o1.Signature.ID {
		t.Fatal("two signatures share an ID")
	}
}

// TestOneRecipientOnly shows that a sealed message cannot be read by anyone
// but its one recipient: SealFor takes one key, and the ciphertext holds one
// session-key packet.
func TestOneRecipientOnly(t *testing.T) {
	m, ok := reflect.TypeOf((*Signed)(nil)).MethodByName("SealFor")
	if !ok || m.Type.NumIn() != 3 || m.Type.In(1) != reflect.TypeOf((*Key)(nil)) {
		t.Fatalf("SealFor signature %v: must take exactly one *Key", m.Type)
	}
	team := testKey(t, "team")
	alice := testKey(t, "alice")
	sealed := sealedTo(t, team, alice)
	i := bytes.Index(sealed, []byte("-----BEGIN PGP MESSAGE-----"))
	j := bytes.Index(sealed, []byte("-----END PGP MESSAGE-----"))
	bin, err := dearmor(sealed[i:j+25], "PGP MESSAGE")
	if err != nil {
		t.Fatal(err)
	}
	h, err := readHead(packet.NewReader(bytes.NewReader(bin)), DefaultLimits())
	if err != nil || h.data == nil {
		t.Fatal(err)
	}
	ids := h.ids
	want, _ := alice.EncryptionKeyID(t0)
	if len(ids) != 1 || ids[0] != want {
		t.Fatalf("session keys for %X, want only %X", ids, want)
	}
	if o, err := Open(sealed, OpenOptions{Decrypt: team, Now: t0}); !errors.Is(err, ErrWrongKey) {
		t.Fatalf("the signing team could open the sealed copy: %+v %v", o, err)
	}
}

// TestOpenDecompressionBomb: zeros compressed in one or three layers inside
// an encrypted message are refused as too large (ErrTooComplex) when the
// plaintext passes the limit, not as undecryptable.
func TestOpenDecompressionBomb(t *testing.T) {
	team := testKey(t, "team")
	enc, err := team.restKey()
	if err != nil {
		t.Fatal(err)
	}
	for _, layers := range []int{1, 3} {
		var buf bytes.Buffer
		key := make([]byte, 32)
		rand.Read(key)
		if err := packet.SerializeEncryptedKey(&buf, enc, packet.CipherAES256, key, nil); err != nil {
			t.Fatal(err)
		}
		var w io.WriteCloser
		if w, err = packet.SerializeSymmetricallyEncrypted(&buf, packet.CipherAES256, false, packet.CipherSuite{}, key, nil); err != nil {
			t.Fatal(err)
		}
		for range layers {
			if w, err = packet.SerializeCompressed(w, packet.CompressionZLIB, &packet.CompressionConfig{Level: 9}); err != nil {
				t.Fatal(err)
			}
		}
		lit, err := packet.SerializeLiteral(w, true, "", 0)
		if err != nil {
			t.Fatal(err)
		}
		lit.Write(make([]byte, 8<<20))
		if err := lit.Close(); err != nil {
			t.Fatal(err)
		}
		a, err := armorBytes("PGP MESSAGE", buf.Bytes())
		if err != nil {
			t.Fatal(err)
		}
		_, err = Open(pgpMIME(a), OpenOptions{Decrypt: team, Now: t0, Limits: Limits{MaxDecompressedBytes: 1 << 20}})
		if !errors.Is(err, ErrTooComplex) {
			t.Errorf("%d layers (%d bytes armored): err = %v, want ErrTooComplex", layers, len(a), err)
		}
	}
}
