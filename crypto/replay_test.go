package crypto

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/secgate/secgate/internal/gpgtest"
)

// reportEntity is a report of about 4 KB that does not compress much, so
// that its encrypted data packet has room for partial body lengths.
func reportEntity(tag string) []byte {
	var b strings.Builder
	b.WriteString("Content-Type: text/plain; charset=utf-8\r\n\r\nBuffer overflow in the frobnicator (" + tag + ").\r\n")
	h := sha256.Sum256([]byte(tag))
	for range 60 {
		h = sha256.Sum256(h[:])
		b.WriteString(hex.EncodeToString(h[:]) + "\r\n")
	}
	return []byte(b.String())
}

// intersect reports whether a and b share an identity.
func intersect(a, b [][]byte) bool {
	return slices.ContainsFunc(a, func(x []byte) bool {
		return slices.ContainsFunc(b, func(y []byte) bool { return bytes.Equal(x, y) })
	})
}

// replayTransforms are the re-encodings the attacker tries. gpgMayRefuse
// marks the ones gpg need not take (then Open need not either).
var replayTransforms = []struct {
	name         string
	r            reencoding
	gpgMayRefuse bool
}{
	{"armor as gpg frames it", reencoding{}, false},
	{"flipped unused base64 bit", reencoding{flip: 1}, false},
	{"flipped all unused base64 bits", reencoding{flip: 0xff}, false},
	{"armor lines of 76", reencoding{lineLen: 76}, false},
	{"armor lines of 16", reencoding{lineLen: 16}, false},
	{"armor lines of 4", reencoding{lineLen: 4}, false},
	{"armor in one line", reencoding{lineLen: 1 << 20}, false},
	{"armor lines of 63", reencoding{lineLen: 63}, false},
	{"armor headers", reencoding{headers: true}, false},
	{"no armor checksum", reencoding{noCRC: true}, false},
	{"LF line ends", reencoding{lf: true}, false},
	{"binary in base64", reencoding{wrap: mimeBase64}, false},
	{"binary in base64 with a flipped unused bit", reencoding{wrap: mimeBase64, flip: 3}, false},
	{"binary in quoted-printable", reencoding{wrap: mimeQP}, false},
	{"binary in quoted-printable, LF", reencoding{wrap: mimeQP, lf: true}, false},
	{"old-format session key, 1-octet length", reencoding{pkesk: framing{old: true, lenSize: 1}}, false},
	{"old-format session key, 2-octet length", reencoding{pkesk: framing{old: true, lenSize: 2}}, false},
	{"old-format session key, 4-octet length", reencoding{pkesk: framing{old: true, lenSize: 4}}, false},
	{"new-format session key", reencoding{pkesk: framing{lenSize: 1}}, false},
	{"new-format session key, 5-octet length", reencoding{pkesk: framing{lenSize: 5}}, false},
	{"data with a 2-octet length", reencoding{data: framing{lenSize: 2}}, false},
	{"data with a 5-octet length", reencoding{data: framing{lenSize: 5}}, false},
	{"data in partial lengths of 512", reencoding{data: framing{partial: 9}}, false},
	{"data in partial lengths of 1024", reencoding{data: framing{partial: 10}}, false},
	{"data in partial lengths of 16", reencoding{data: framing{partial: 4}}, true},
	{"marker packet in front", reencoding{marker: true}, false},
	{"session key for another key in front", reencoding{decoy: true}, false},
	{"marker packet, new format", reencoding{marker: true, pkesk: framing{lenSize: 5}}, false},
	{"everything at once", reencoding{pkesk: framing{old: true, lenSize: 4}, data: framing{partial: 9}, marker: true, lineLen: 40, flip: 1, headers: true, noCRC: true, lf: true}, false},
	{"inline", reencoding{wrap: inlineText}, false},
	{"inline, quoted-printable", reencoding{wrap: inlineQP}, false},
	{"inline with decoys around it", reencoding{wrap: inlineText, before: "Hi team, please see below.\n\n", after: "\n-----BEGIN PGP MESSAGE-----\n\nnot a message\n-----END PGP MESSAGE-----\n"}, false},
	{"inline, reframed and re-armored", reencoding{wrap: inlineText, pkesk: framing{old: true, lenSize: 2}, data: framing{partial: 10}, lineLen: 76, flip: 2}, false},
}

// TestReplayReencoded plays the attacker of a replay: a report encrypted
// by gpg to the team key, signed or not, is re-encoded every way gpg still
// decrypts to the same plaintext, and each re-encoding must open with
// identities that intersect the original's. The victim's whole
// multipart/encrypted (or inline armor) encrypted again to the team key
// by the attacker must fail with ErrNested, with the outer identities.
func TestReplayReencoded(t *testing.T) {
	g := gpgtest.New(t)
	g.Passphrase = testPassphrase
	// The agent protects imported keys with few S2K rounds: each of the
	// many decryptions below unlocks the key again.
	conf, err := os.OpenFile(filepath.Join(g.Home, "gpg-agent.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conf.WriteString("s2k-count 65536\n"); err != nil {
		t.Fatal(err)
	}
	if err := conf.Close(); err != nil {
		t.Fatal(err)
	}
	team := loadTestKey(t, "team-x25519")
	arm, err := team.ArmorPrivate([]byte(testPassphrase))
	if err != nil {
		t.Fatal(err)
	}
	g.Import([]byte(arm))
	reporter := g.GenKey("Reporter <reporter@example.org>", "ed25519")
	attacker := g.GenKey("Attacker <attacker@example.net>", "ed25519")
	opts := OpenOptions{Decrypt: team, Now: fixtureTime}

	for _, signed := range []bool{false, true} {
		t.Run(fmt.Sprintf("signed=%v", signed), func(t *testing.T) {
			// The flip needs base64 padding: a binary length that is
			// not a multiple of 3.
			var plain, armored, bin []byte
			for i := 0; ; i++ {
				plain = append(reportEntity(fmt.Sprintf("signed=%v", signed)), bytes.Repeat([]byte("."), i)...)
				args := []string{"--armor", "--recipient", team.Fingerprint(), "--compress-algo", "none"}
				if signed {
					args = append(args, "--local-user", reporter, "--sign")
				}
				r := g.Run(plain, append(args, "--encrypt")...)
				if r.Err != nil {
					t.Fatalf("gpg --encrypt: %v\n%s", r.Err, r.Stderr)
				}
				armored = r.Stdout
				if bin, err = dearmor(armored, "PGP MESSAGE"); err != nil {
					t.Fatal(err)
				}
				if len(bin)%3 != 0 {
					break
				}
			}
			pkts, err := splitPackets(bin)
			if err != nil {
				t.Fatal(err)
			}
			orig, err := Open(pgpMIME(armored), opts)
			if err != nil || len(orig.Identities) != 2 {
				t.Fatalf("Open of gpg's message: %v %+v", err, orig)
			}
			if !bytes.Equal(orig.Identities[1], plaintextIdentity(plain)) {
				t.Fatal("plaintext identity is not over the literal data")
			}

			for _, tt := range replayTransforms {
				t.Run(tt.name, func(t *testing.T) {
					t.Parallel()
					mail, pgp := tt.r.mail(pkts)
					r := g.Decrypt(pgp)
					gpgOK := r.Err == nil && bytes.Equal(r.Stdout, plain)
					o, err := Open(mail, opts)
					if o != nil && o.Identities != nil && !intersect(o.Identities, orig.Identities) {
						t.Fatalf("identities %x share nothing with the original's %x", o.Identities, orig.Identities)
					}
					switch {
					case !gpgOK && !tt.gpgMayRefuse:
						t.Fatalf("gpg refuses it: %v\n%s", r.Err, r.Stderr)
					case !gpgOK:
						t.Logf("gpg refuses it (Open: %v)", err)
					case err != nil:
						t.Fatalf("gpg decrypts it, Open: %v", err)
					case !intersect(o.Identities, orig.Identities):
						t.Fatalf("identities %x share nothing with the original's %x", o.Identities, orig.Identities)
					}
				})
			}

			// The second layer: the victim's whole encrypted entity, or
			// its inline armor, encrypted again to the team key by the
			// attacker.
			victim := pgpMIME(armored)
			_, entity := splitEntity(victim)
			entity = append([]byte("Content-Type: multipart/encrypted; protocol=\"application/pgp-encrypted\"; boundary=\"XYZ\"\r\n\r\n"), entity...)
			for name, content := range map[string][]byte{
				"PGP/MIME in PGP/MIME": entity,
				"inline in PGP/MIME":   append([]byte("Content-Type: text/plain\r\n\r\n"), armored...),
				"inline in inline":     armored,
			} {
				t.Run("second layer/"+name, func(t *testing.T) {
					outer := g.Encrypt(content, team.Fingerprint(), attacker)
					msg := pgpMIME(outer)
					if name == "inline in inline" {
						msg = inlineMail(string(outer))
					}
					o, err := Open(msg, opts)
					if !errors.Is(err, ErrNested) {
						t.Fatalf("Open: %v, want ErrNested", err)
					}
					if o == nil || !o.Encrypted || len(o.EncryptedTo) == 0 || len(o.Identities) != 2 || o.Entity != nil {
						t.Fatalf("Opened %+v", o)
					}
					if intersect(o.Identities, orig.Identities) {
						t.Fatal("the inner layer was decrypted")
					}
					if r := g.Decrypt(outer); r.Err != nil || !bytes.Equal(r.Stdout, content) {
						t.Fatalf("gpg does not see the inner message: %v", r.Err)
					}
				})
			}
		})
	}
}
