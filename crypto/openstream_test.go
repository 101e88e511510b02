package crypto

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// openedText renders all Open returned, so that two results compare.
func openedText(o *Opened, err error) string {
	var b strings.Builder
	fmt.Fprintf(&b, "err=%v\n", err)
	if o == nil {
		return b.String() + "nil"
	}
	fmt.Fprintf(&b, "encrypted=%v to=%v inline=%v partial=%v\nentity=%q\noutside=%q\nidentities=%x\n",
		o.Encrypted, o.EncryptedTo, o.Inline, o.Partial, o.Entity, o.Outside, o.Identities)
	if s := o.Signature; s != nil {
		fmt.Fprintf(&b, "sig=%s %X %v %s %s whole=%v us=%v err=%v\n", s.Fingerprint, s.KeyID, s.Created, s.Hash, s.ID, s.Whole, s.IntendedForUs, s.Err)
	}
	return b.String()
}

// streamOf returns a stream of raw that reads it in small pieces, as the
// pieces of a stored message come, and counts how often it was opened.
func streamOf(raw []byte, opened *int) func() (io.Reader, error) {
	return func() (io.Reader, error) {
		*opened++
		return io.MultiReader(bytes.NewReader(raw[:len(raw)/3]), bytes.NewReader(raw[len(raw)/3:])), nil
	}
}

// sameAsOpen checks that OpenFrom, when it handles raw, returns what Open
// returns, and reports whether it handled it.
func sameAsOpen(t *testing.T, name string, raw []byte, opts OpenOptions) bool {
	t.Helper()
	n := 0
	got, handled, err := OpenFrom(streamOf(raw, &n), opts)
	if !handled {
		if got != nil || err != nil {
			t.Errorf("%s: not handled, but returned %v, %v", name, got, err)
		}
		return false
	}
	want, werr := Open(raw, opts)
	if g, w := openedText(got, err), openedText(want, werr); g != w {
		t.Errorf("%s: OpenFrom:\n%s\nOpen:\n%s", name, g, w)
	}
	return true
}

var armorLine = regexp.MustCompile(`(?m)^[A-Za-z0-9+/]{60,}\r?$`)

// streamVariants are raw and the ways a sender (or an attacker) may write
// the same PGP/MIME message otherwise, each with whether OpenFrom takes
// it (-1: either way).
func streamVariants(raw []byte) map[string][]byte {
	crlf := canonCRLF(raw)
	_, body := splitEntity(crlf)
	m := regexp.MustCompile(`(?m)^--([^\r\n]+?)--\r?$`).FindSubmatch(body)
	v := map[string][]byte{"as is": raw, "crlf": crlf, "lf": bytes.ReplaceAll(crlf, []byte("\r\n"), []byte("\n"))}
	end := []byte("-----END PGP MESSAGE-----")
	if m == nil || !bytes.Contains(crlf, end) {
		return v
	}
	close := m[0]
	delim := append([]byte("--"), m[1]...)
	v["no close delimiter"] = bytes.Replace(crlf, close, nil, 1)
	v["close delimiter with padding"] = bytes.Replace(crlf, close, append(bytes.Clone(close), " \t"...), 1)
	v["epilogue"] = append(bytes.Clone(crlf), "epilogue\r\n--x\r\n"...)
	v["third part"] = bytes.Replace(crlf, close, append(append(bytes.Clone(delim), "\r\n\r\nthird\r\n"...), close...), 1)
	v["one part"] = bytes.Replace(crlf, []byte("\r\n"+string(delim)+"\r\nContent-Type: application/octet-stream"), []byte("\r\nContent-Type: application/octet-stream"), 1)
	v["blank after armor"] = bytes.Replace(crlf, end, append(bytes.Clone(end), "\r\n  \r\n\t"...), 1)
	v["NBSP after armor"] = bytes.Replace(crlf, end, append(bytes.Clone(end), "\u00a0"...), 1)
	v["NEL after armor"] = bytes.Replace(crlf, end, append(bytes.Clone(end), "\u0085"...), 1)
	v["text after armor"] = bytes.Replace(crlf, end, append(bytes.Clone(end), "\r\nsigned: me"...), 1)
	v["spaces before armor"] = bytes.Replace(crlf, beginMessage, append([]byte("  "), beginMessage...), 1)
	v["truncated armor"] = crlf[:bytes.Index(crlf, end)-40]
	v["damaged armor"] = armorLine.ReplaceAllFunc(crlf, func(l []byte) []byte { return bytes.Replace(l, []byte("A"), []byte("B"), 1) })
	v["long armor lines"] = armorLine.ReplaceAllFunc(crlf, func(l []byte) []byte { return append(bytes.Clone(l), " "...) })
	if loc := armorLine.FindIndex(crlf); loc != nil {
		joined := append(bytes.Clone(crlf[:loc[1]-1]), crlf[loc[1]+1:]...) // two base64 lines in one
		v["one line of 128"] = joined
	}
	v["data part base64"] = bytes.Replace(crlf, []byte("Content-Type: application/octet-stream"), []byte("Content-Transfer-Encoding: base64\r\nContent-Type: application/octet-stream"), 1)
	if i := bytes.Index(crlf, beginMessage); i >= 0 {
		j := bytes.Index(crlf, end) + len(end)
		enc := base64.StdEncoding.EncodeToString(crlf[i:j])
		b64 := append(append(bytes.Clone(crlf[:i]), enc...), crlf[j:]...)
		v["data part in base64"] = bytes.Replace(b64, []byte("Content-Type: application/octet-stream"), []byte("Content-Transfer-Encoding: base64\r\nContent-Type: application/octet-stream"), 1)
	}
	v["control part text/plain"] = bytes.Replace(crlf, []byte("Content-Type: application/pgp-encrypted\r\n"), []byte("Content-Type: text/plain\r\n"), 1)
	v["no header"] = append([]byte("\r\n"), crlf...)
	v["bare CR in header"] = bytes.Replace(crlf, []byte("MIME-Version: 1.0\r\n"), []byte("MIME-Version: 1.0\r\r\n"), 1)
	return v
}

// streamMessages are PGP/MIME messages to team of each kind Open tells
// apart: signed inside (multipart/signed, one-pass), encrypted only,
// nested, tampered, to another key, big enough to cross the readers'
// buffers; and the stored fixtures.
func streamMessages(t *testing.T, team, alice, mallory *Key) map[string][]byte {
	t.Helper()
	pgpmime := func(content []byte, signer *Key) []byte {
		return pgpMIME(mustArmor(t, encryptTo(t, team, signer, content)))
	}
	attachment := bytes.Repeat([]byte("core dump line\r\n"), 40<<10)
	big := mixed("Content-Type: text/plain\r\n\r\nsee the core", "Content-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=core\r\nContent-Transfer-Encoding: base64\r\n\r\n"+
		base64.StdEncoding.EncodeToString(attachment))
	victim, err := must(t)(alice.Sign(Content{Subject: "Report", Entity: []byte(textEntityCRLF)}, t0)).SealFor(team.Public(), t0)
	if err != nil {
		t.Fatal(err)
	}
	msgs := map[string][]byte{
		"multipart/signed inside": sealedTo(t, alice, team),
		"one-pass signed inside":  pgpmime([]byte(textEntityCRLF), alice),
		"signed by a stranger":    pgpmime([]byte(textEntityCRLF), mallory),
		"encrypted only":          pgpmime([]byte(textEntityCRLF), nil),
		"LF inside":               pgpmime([]byte(strings.ReplaceAll(textEntityCRLF, "\r\n", "\n")), nil),
		"big":                     pgpmime([]byte(big), alice),
		"big encrypted only":      pgpmime([]byte(big), nil),
		"nested":                  pgpmime(victim, nil),
		"nested signed":           pgpmime(victim, mallory),
		"to another key":          pgpMIME(mustArmor(t, encryptTo(t, mallory, alice, []byte(textEntityCRLF)))),
		"tampered":                tamperArmored(t, sealedTo(t, alice, team), func(n int) int { return n - 30 }),
		"tampered at the start":   tamperArmored(t, sealedTo(t, alice, team), func(n int) int { return n / 3 }),
		"not encrypted":           pgpMIME(signedOnlyPGP(t, alice)),
		"empty literal":           pgpmime(nil, nil),
		"text only, no MIME":      pgpmime([]byte("just text\r\n"), alice),
	}
	for _, pat := range []string{"testdata/mail/*.eml", "testdata/golden/*.eml"} {
		files, _ := filepath.Glob(pat)
		for _, p := range files {
			raw, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			msgs[filepath.Base(p)] = raw
		}
	}
	return msgs
}

// TestOpenFromAsOpen: OpenFrom returns what Open returns for every kind of
// PGP/MIME message and every way of writing it otherwise, under the limits
// too, or leaves it to Open; it takes the usual form.
func TestOpenFromAsOpen(t *testing.T) {
	team, alice, mallory := testKey(t, "team"), testKey(t, "alice"), testKey(t, "mallory")
	opts := OpenOptions{Decrypt: team, Verifiers: []*Key{alice.Public()}, Now: t0}
	handled, decrypted := 0, 0
	for name, raw := range streamMessages(t, team, alice, mallory) {
		for vname, v := range streamVariants(raw) {
			if sameAsOpen(t, name+", "+vname, v, opts) {
				handled++
				if o, err := Open(v, opts); err == nil && o.Encrypted {
					decrypted++
				}
			}
		}
		for lname, lim := range map[string]Limits{
			"MaxMessageBytes": {MaxMessageBytes: int64(len(raw)) - 1},
			"MaxParts":        {MaxParts: 1},
			"MaxDecompressed": {MaxDecompressedBytes: 100},
			"MaxRecipients":   {MaxRecipients: 1},
			"MaxDepth":        {MaxDepth: 1},
		} {
			o := opts
			o.Limits = lim
			sameAsOpen(t, name+", "+lname, raw, o)
		}
	}
	t.Logf("%d messages handled, %d decrypted", handled, decrypted)
	if handled < 60 || decrypted < 30 {
		t.Errorf("OpenFrom handled %d messages, %d decrypted: PGP/MIME is not streamed", handled, decrypted)
	}
	for _, name := range []string{"one-pass signed inside", "big"} {
		raw := streamMessages(t, team, alice, mallory)[name]
		n := 0
		o, handled, err := OpenFrom(streamOf(raw, &n), opts)
		if !handled || err != nil || o.Signature == nil || o.Signature.Err != nil || !o.Signature.Whole {
			t.Errorf("%s: handled %v, %v, %+v", name, handled, err, o)
		}
	}
}

// TestOpenFromStreamFails: a stream that fails, at its opening or part way,
// decides nothing: the caller opens the whole message and reports the
// failure.
func TestOpenFromStreamFails(t *testing.T) {
	team := testKey(t, "team")
	raw := sealedTo(t, testKey(t, "alice"), team)
	broken := errors.New("disk gone")
	for _, failAt := range []int{1, 2, 3} {
		n := 0
		stream := func() (io.Reader, error) {
			n++
			switch {
			case n < failAt:
				return bytes.NewReader(raw), nil
			case n == failAt && failAt == 1:
				return nil, broken
			}
			return io.MultiReader(bytes.NewReader(raw[:len(raw)/2]), errReader{broken}), nil
		}
		o, handled, err := OpenFrom(stream, OpenOptions{Decrypt: team, Now: fixtureTime})
		if handled || o != nil || err != nil {
			t.Errorf("failing at opening %d: handled %v, %v, %v", failAt, handled, o, err)
		}
	}
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

// FuzzOpenFrom: whatever the message, OpenFrom returns what Open returns,
// or leaves it to Open.
func FuzzOpenFrom(f *testing.F) {
	addMailSeeds(f)
	team, member := fuzzKeys(f)
	signer := loadTestKey(f, "member-x25519")
	// Messages that decrypt, so that the fuzzer reaches what follows.
	f.Add(pgpMIME(mustArmor(f, encryptTo(f, team, signer, []byte(textEntityCRLF)))))
	f.Add(pgpMIME(mustArmor(f, encryptTo(f, team, nil, []byte(mixed("Content-Type: text/plain\r\n\r\nhi", "Content-Type: application/octet-stream\r\n\r\nAAAA"))))))
	f.Fuzz(func(t *testing.T, raw []byte) {
		sameAsOpen(t, "fuzz", raw, OpenOptions{Decrypt: team, Verifiers: []*Key{member}, Now: fixtureTime, Limits: Limits{MaxDecompressedBytes: 1 << 20}})
	})
}
