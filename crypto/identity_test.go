package crypto

import (
	"bytes"
	gocrypto "crypto"
	"crypto/sha256"
	"errors"
	"io"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

// wantSK is the session-key identity Opened.Identities documents.
func wantSK(c packet.CipherFunction, key []byte) []byte {
	b := append([]byte("secgate-sk\x00"), byte(c))
	h := sha256.Sum256(append(b, key...))
	return h[:]
}

// wantPT is the plaintext identity Opened.Identities documents.
func wantPT(plain string) []byte {
	h := sha256.Sum256([]byte("secgate-pt\x00" + plain))
	return h[:]
}

// pkesk is one session-key packet of a crafted message.
type pkesk struct {
	to     *Key
	key    []byte // nil: the message's session key
	hidden bool   // wildcard key ID
}

// craftPGP encrypts literal data to the session-key packets given, with
// the session key and cipher given (SEIPD v2 with OCB when aead, v6
// PKESKs then), and returns the binary message.
func craftPGP(t testing.TB, c packet.CipherFunction, key []byte, aead bool, esks []pkesk, literal string) []byte {
	t.Helper()
	cfg := baseConfig(t0)
	cfg.AEADConfig = &packet.AEADConfig{DefaultMode: packet.AEADModeOCB}
	var buf bytes.Buffer
	for _, e := range esks {
		pub, err := e.to.restKey()
		if err != nil {
			t.Fatal(err)
		}
		k := e.key
		if k == nil {
			k = key
		}
		if err := packet.SerializeEncryptedKeyAEADwithHiddenOption(&buf, pub, c, aead, k, e.hidden, cfg); err != nil {
			t.Fatal(err)
		}
	}
	w, err := packet.SerializeSymmetricallyEncrypted(&buf, c, aead, packet.CipherSuite{Cipher: c, Mode: packet.AEADModeOCB}, key, cfg)
	if err != nil {
		t.Fatal(err)
	}
	lit, err := packet.SerializeLiteral(w, true, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(lit, literal); err != nil {
		t.Fatal(err)
	}
	if err := lit.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func sessionKey(n int, fill byte) []byte {
	return bytes.Repeat([]byte{fill}, n)
}

// TestIdentities: Opened.Identities are the documented digests of the
// session key and of the literal data, for every kind of session-key
// packet and encrypted data go-crypto reads.
func TestIdentities(t *testing.T) {
	team := testKey(t, "team")
	mallory := testKey(t, "mallory")
	rsa := loadTestKey(t, "team-rsa")
	_, v6 := v6Key(t, "v6team@example.org")
	k32, k16 := sessionKey(32, 0x42), sessionKey(16, 0x17)
	tests := []struct {
		name   string
		team   *Key
		cipher packet.CipherFunction
		key    []byte
		aead   bool
		esks   []pkesk
	}{
		{"x25519 SEIPDv1 AES-256", team, packet.CipherAES256, k32, false, []pkesk{{to: team}}},
		{"x25519 SEIPDv1 AES-128", team, packet.CipherAES128, k16, false, []pkesk{{to: team}}},
		{"x25519 v6 PKESK SEIPDv2", team, packet.CipherAES256, k32, true, []pkesk{{to: team}}},
		{"wildcard key ID", team, packet.CipherAES256, k32, false, []pkesk{{to: team, hidden: true}}},
		{"second of two recipients", team, packet.CipherAES256, k32, false, []pkesk{{to: mallory}, {to: team}}},
		{"decoy for another key first", team, packet.CipherAES256, k32, false, []pkesk{{to: mallory, key: sessionKey(32, 1)}, {to: team}}},
		{"rsa3072", rsa, packet.CipherAES256, k32, false, []pkesk{{to: rsa}}},
		{"v6 key v3 PKESK", v6, packet.CipherAES256, k32, false, []pkesk{{to: v6}}},
		{"v6 key v6 PKESK SEIPDv2", v6, packet.CipherAES128, k16, true, []pkesk{{to: v6}}},
		{"v6 key anonymous recipient", v6, packet.CipherAES256, k32, true, []pkesk{{to: v6, hidden: true}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bin := craftPGP(t, tt.cipher, tt.key, tt.aead, tt.esks, textEntityCRLF)
			for _, msg := range [][]byte{pgpMIME(mustArmor(t, bin)), inlineMail(string(mustArmor(t, bin)))} {
				o, err := Open(msg, OpenOptions{Decrypt: tt.team, Now: t0})
				if err != nil {
					t.Fatalf("Open: %v", err)
				}
				want := [][]byte{wantSK(tt.cipher, tt.key), wantPT(textEntityCRLF)}
				if !slices.EqualFunc(o.Identities, want, bytes.Equal) {
					t.Fatalf("Identities = %x, want %x", o.Identities, want)
				}
			}
		})
	}
}

// inlineMail is a text/plain mail with body.
func inlineMail(body string) []byte {
	return []byte(mailHeader + "Content-Type: text/plain; charset=utf-8\r\n\r\n" + body)
}

// TestIdentitiesStable: the same ciphertext has the same identities; the
// same plaintext encrypted again shares the plaintext identity alone.
func TestIdentitiesStable(t *testing.T) {
	team := testKey(t, "team")
	alice := testKey(t, "alice")
	opts := OpenOptions{Decrypt: team, Verifiers: []*Key{alice.Public()}, Now: t0}
	s, err := alice.Sign(Content{Subject: "Report", Entity: []byte(textEntityCRLF)}, t0)
	if err != nil {
		t.Fatal(err)
	}
	var ids [][][]byte
	for range 2 {
		sealed, err := s.SealFor(team.Public(), t0)
		if err != nil {
			t.Fatal(err)
		}
		o1, err := Open(outerMessage(sealed), opts)
		if err != nil {
			t.Fatal(err)
		}
		o2, err := Open(bytes.ReplaceAll(outerMessage(sealed), []byte("\r\n"), []byte("\n")), opts)
		if err != nil {
			t.Fatal(err)
		}
		if len(o1.Identities) != 2 || !slices.EqualFunc(o1.Identities, o2.Identities, bytes.Equal) {
			t.Fatalf("the same ciphertext opened twice: %x and %x", o1.Identities, o2.Identities)
		}
		for _, id := range o1.Identities {
			if len(id) != sha256.Size {
				t.Fatalf("identity of %d bytes", len(id))
			}
		}
		ids = append(ids, o1.Identities)
	}
	if bytes.Equal(ids[0][0], ids[1][0]) {
		t.Error("two encryptions share a session-key identity")
	}
	if !bytes.Equal(ids[0][1], ids[1][1]) {
		t.Error("two encryptions of the same entity have different plaintext identities")
	}
}

// TestIdentitiesOnFailure: nothing is recorded when the data did not
// decrypt with a passing integrity check.
func TestIdentitiesOnFailure(t *testing.T) {
	team := testKey(t, "team")
	k32 := sessionKey(32, 0x42)
	good := craftPGP(t, packet.CipherAES256, k32, false, []pkesk{{to: team}}, textEntityCRLF)
	tampered := bytes.Clone(good)
	tampered[len(tampered)-30] ^= 0x01
	decoy := craftPGP(t, packet.CipherAES256, k32, false, []pkesk{{to: team, key: sessionKey(32, 7)}, {to: team}}, textEntityCRLF)
	tests := []struct {
		name string
		bin  []byte
		opts OpenOptions
		want error
	}{
		{"tampered", tampered, OpenOptions{Decrypt: team, Now: t0}, ErrDecrypt},
		{"wrong key", good, OpenOptions{Decrypt: testKey(t, "bob"), Now: t0}, ErrWrongKey},
		// The first session key we can decrypt is the one used (as
		// go-crypto and gpg do): another one to the team key in front
		// breaks the message.
		{"other session key to us first", decoy, OpenOptions{Decrypt: team, Now: t0}, ErrDecrypt},
		{"too large", good, OpenOptions{Decrypt: team, Now: t0, Limits: Limits{MaxDecompressedBytes: 10}}, ErrTooComplex},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, err := Open(pgpMIME(mustArmor(t, tt.bin)), tt.opts)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Open: %v, want %v", err, tt.want)
			}
			if o != nil && (o.Identities != nil || o.Entity != nil) {
				t.Fatalf("Identities %x, Entity %q with %v", o.Identities, o.Entity, err)
			}
		})
	}
}

// countingDecrypter counts RSA private-key operations.
type countingDecrypter struct {
	gocrypto.Decrypter
	n *atomic.Int32
}

func (c countingDecrypter) Decrypt(rand io.Reader, msg []byte, opts gocrypto.DecrypterOpts) ([]byte, error) {
	c.n.Add(1)
	return c.Decrypter.Decrypt(rand, msg, opts)
}

// TestOnePublicKeyOperation: opening a message takes one private-key
// operation, the session key's: its identity costs nothing more.
func TestOnePublicKeyOperation(t *testing.T) {
	rsa := loadTestKey(t, "team-rsa")
	member := loadTestKey(t, "member-rsa")
	var n atomic.Int32
	e := *rsa.entity
	e.Subkeys = slices.Clone(rsa.entity.Subkeys)
	for i, s := range e.Subkeys {
		if s.PrivateKey == nil {
			continue
		}
		pk := *s.PrivateKey
		pk.PrivateKey = countingDecrypter{pk.PrivateKey.(gocrypto.Decrypter), &n}
		e.Subkeys[i].PrivateKey = &pk
	}
	counted := &Key{entity: &e, private: true}
	s, err := member.Sign(Content{Subject: "Report", Entity: []byte(textEntityCRLF)}, fixtureTime)
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := s.SealFor(rsa.Public(), fixtureTime)
	if err != nil {
		t.Fatal(err)
	}
	o, err := Open(outerMessage(sealed), OpenOptions{Decrypt: counted, Verifiers: []*Key{member.Public()}, Now: fixtureTime})
	if err != nil || o.Signature == nil || o.Signature.Err != nil || len(o.Identities) != 2 {
		t.Fatalf("Open: %v %+v", err, o)
	}
	if got := n.Load(); got != 1 {
		t.Fatalf("%d private-key operations, want 1", got)
	}
}

// TestIdentitiesAfterDecryption: when the data decrypted but its content
// is refused, the returned Opened still has the identities (and no
// content), so that a caller can recognise the ciphertext.
func TestIdentitiesAfterDecryption(t *testing.T) {
	team := testKey(t, "team")
	tests := []struct {
		name    string
		content string
		opts    OpenOptions
		want    error
	}{
		{"not MIME", "\x00\x01 not a MIME entity", OpenOptions{Decrypt: team, Now: t0}, ErrNotMIME},
		{"too many parts", "Content-Type: multipart/mixed; boundary=b\r\n\r\n" + strings.Repeat("--b\r\n\r\nx\r\n", 20) + "--b--\r\n", OpenOptions{Decrypt: team, Now: t0, Limits: Limits{MaxParts: 8}}, ErrTooComplex},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, err := Open(pgpMIME(mustArmor(t, encryptTo(t, team, nil, []byte(tt.content)))), tt.opts)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Open: %v, want %v", err, tt.want)
			}
			if o == nil || len(o.Identities) != 2 || !bytes.Equal(o.Identities[1], wantPT(tt.content)) || o.Entity != nil {
				t.Fatalf("Opened %+v", o)
			}
		})
	}
}
