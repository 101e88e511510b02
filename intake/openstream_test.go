package intake

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/secgate/secgate/crypto"
)

// TestOpenStream: a big PGP/MIME report opens from the stream of its
// stored bytes without being read whole, to what Open makes of the whole
// message (text, attachment, signer, identities); a report in another
// form, or a stream that fails, is read whole and opened so.
func TestOpenStream(t *testing.T) {
	ctx := context.Background()
	now := time.Now()
	created := now.Add(-time.Hour)
	team, err := crypto.GenerateKey("Security Team", "security@example.test", crypto.GenerateOptions{Algorithm: "x25519", Created: created})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := crypto.GenerateKey("Reporter", "reporter@outside.example", crypto.GenerateOptions{Created: created})
	if err != nil {
		t.Fatal(err)
	}
	repKey, err := rep.ArmorPublic()
	if err != nil {
		t.Fatal(err)
	}
	att := make([]byte, 700<<10)
	rand.Read(att)
	entity := "Content-Type: multipart/mixed; boundary=\"r\"\r\n\r\n--r\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nthe core dump shows it\r\n" +
		"--r\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=\"core.bin\"\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
		wrap76(base64.StdEncoding.EncodeToString(att)) + "--r--\r\n"
	signed, err := rep.Sign(crypto.Content{Subject: "Overflow", From: "reporter@outside.example", Entity: []byte(entity)}, now)
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := signed.SealFor(team.Public(), now)
	if err != nil {
		t.Fatal(err)
	}
	header := "From: <reporter@outside.example>\r\nTo: <security@example.test>\r\nSubject: ...\r\nMIME-Version: 1.0\r\n"
	pgpmime := append([]byte(header), sealed...)
	signedEntity, err := signed.Entity()
	if err != nil {
		t.Fatal(err)
	}
	clear := append([]byte(header), signedEntity...) // signed, not encrypted
	c := &CryptoOpener{TeamKey: team}
	cands := []string{repKey}
	broken := fmt.Errorf("disk gone")
	for _, tc := range []struct {
		name   string
		raw    []byte
		stream func(raw []byte) (io.Reader, error)
		whole  bool // read whole
	}{
		{"PGP/MIME", pgpmime, func(raw []byte) (io.Reader, error) { return iotest.HalfReader(bytes.NewReader(raw)), nil }, false},
		{"in clear", clear, func(raw []byte) (io.Reader, error) { return bytes.NewReader(raw), nil }, true},
		{"stream fails", pgpmime, func([]byte) (io.Reader, error) { return nil, broken }, true},
		{"stream fails part way", pgpmime, func(raw []byte) (io.Reader, error) {
			return io.MultiReader(bytes.NewReader(raw[:len(raw)/2]), iotest.ErrReader(broken)), nil
		}, true},
	} {
		wholeReads := 0
		got, err := c.OpenStream(ctx, func() (io.Reader, error) { return tc.stream(tc.raw) }, attachedKeys(tc.raw),
			func() ([]byte, error) { wholeReads++; return tc.raw, nil }, cands, nil, now)
		if tc.whole != (wholeReads > 0) {
			t.Errorf("%s: read whole %d times", tc.name, wholeReads)
		}
		want, werr := c.Open(ctx, tc.raw, cands, nil, now)
		if err != nil || werr != nil {
			t.Fatalf("%s: %v; Open: %v", tc.name, err, werr)
		}
		if len(got.Attachments) != 1 || !bytes.Equal(got.Attachments[0].Data, att) || got.Text != want.Text {
			t.Errorf("%s: text %q, %d attachments, want %q and the attachment", tc.name, got.Text, len(got.Attachments), want.Text)
		}
		if got.Signer != rep.Fingerprint() || !got.SignedWhole || got.Encrypted != (tc.name != "in clear") || got.Signer != want.Signer || got.SignatureID != want.SignatureID ||
			got.Encrypted != want.Encrypted || got.Subject != want.Subject || !slices.EqualFunc(got.Identities, want.Identities, bytes.Equal) {
			t.Errorf("%s: signer %q whole %v, encrypted %v, subject %q, identities %x; Open: %q %v %v %q %x", tc.name,
				got.Signer, got.SignedWhole, got.Encrypted, got.Subject, got.Identities, want.Signer, want.SignedWhole, want.Encrypted, want.Subject, want.Identities)
		}
	}
}

// TestAttachedKeysFrom: the armored keys of a message, however its bytes
// come in pieces: at most four, from BEGIN to END, in LF form; a block
// without its END ends the search; a block over maxKeyBlock is skipped.
func TestAttachedKeysFrom(t *testing.T) {
	block := func(s string) string {
		return "-----BEGIN PGP PUBLIC KEY BLOCK-----\r\n\r\n" + s + "\r\n-----END PGP PUBLIC KEY BLOCK-----"
	}
	lf := func(s string) string { return strings.ReplaceAll(block(s), "\r\n", "\n") }
	long := strings.Repeat("QUJD", 30000)
	atLimit := strings.Repeat("A", maxKeyBlock-len(block("")))
	for _, tc := range []struct {
		name string
		raw  string
		want []string
	}{
		{"none", "Subject: x\r\n\r\nno key here\r\n", nil},
		{"one", "text\r\n" + block("AAAA") + "\r\nmore", []string{lf("AAAA")}},
		{"two", block("AAAA") + "\r\n" + block("BBBB"), []string{lf("AAAA"), lf("BBBB")}},
		{"five, four kept", strings.Repeat(block("CCCC")+"\r\n", 5), []string{lf("CCCC"), lf("CCCC"), lf("CCCC"), lf("CCCC")}},
		{"no END", "x " + block("AAAA")[:60], nil},
		// The second BEGIN's block runs to the next END line.
		{"no END after one", block("AAAA") + "\r\n" + block("BBBB")[:60] + "\r\n" + block("CCCC"),
			[]string{lf("AAAA"), strings.ReplaceAll(block("BBBB")[:60]+"\r\n"+block("CCCC"), "\r\n", "\n")}},
		{"long block", "y\r\n" + block(long), []string{lf(long)}},
		{"block at the limit", block(atLimit), []string{lf(atLimit)}},
		// A block over the limit is skipped, and the search goes on after it.
		{"block over the limit", block(atLimit+"A") + "\r\n" + block("AAAA"), []string{lf("AAAA")}},
		{"block over the limit, no END", block(atLimit + long)[:maxKeyBlock+10], nil},
	} {
		want := tc.want
		for _, r := range []io.Reader{strings.NewReader(tc.raw), iotest.OneByteReader(strings.NewReader(tc.raw)), iotest.HalfReader(strings.NewReader(tc.raw))} {
			got, err := attachedKeysFrom(r)
			if err != nil || !slices.Equal(got, want) {
				t.Errorf("%s: %d keys %v, want %d", tc.name, len(got), err, len(want))
			}
		}
	}
}

// wrap76 cuts s in lines of 76 characters, each ending in CRLF.
func wrap76(s string) string {
	var b strings.Builder
	for len(s) > 76 {
		b.WriteString(s[:76] + "\r\n")
		s = s[76:]
	}
	return b.String() + s + "\r\n"
}

// TestInspectStream: every classify and hostile fixture inspects from a
// stream as Inspect inspects it whole, under tight limits too (size,
// depth, parts, attachments); a stream that fails decides nothing.
func TestInspectStream(t *testing.T) {
	var files []string
	for _, dir := range []string{"testdata/classify", "testdata/hostile"} {
		f, err := filepath.Glob(filepath.Join(dir, "*.eml"))
		if err != nil || len(f) == 0 {
			t.Fatalf("%s: %v", dir, err)
		}
		files = append(files, f...)
	}
	for _, p := range files {
		raw, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		for _, lim := range []Limits{
			{MaxSize: 1 << 20, MaxDepth: 8, MaxParts: 64, MaxAttachments: 10},
			{MaxSize: int64(len(raw)) - 1},
			{MaxSize: int64(len(raw))},
			{MaxDepth: 1, MaxParts: 2, MaxAttachments: 1},
		} {
			want, werr := Inspect(raw, lim)
			var keys keyScanner
			got, ok, err := inspectStream(func() (io.Reader, error) { return iotest.HalfReader(bytes.NewReader(raw)), nil }, lim, &keys)
			if !ok || fmt.Sprint(err) != fmt.Sprint(werr) || !reflect.DeepEqual(got, want) {
				t.Errorf("%s, %+v: %v %v %+v; Inspect: %v %+v", p, lim, ok, err, got, werr, want)
			}
			if !slices.Equal(keys.keys, attachedKeys(raw)) {
				t.Errorf("%s: keys found on the way %q, want %q", p, keys.keys, attachedKeys(raw))
			}
		}
	}
	raw := readFixture(t, "report-pgpmime.eml")
	broken := fmt.Errorf("disk gone")
	for name, stream := range map[string]func() (io.Reader, error){
		"at its opening": func() (io.Reader, error) { return nil, broken },
		"part way": func() (io.Reader, error) {
			return io.MultiReader(bytes.NewReader(raw[:len(raw)/2]), iotest.ErrReader(broken)), nil
		},
	} {
		if in, ok, err := inspectStream(stream, Limits{}, io.Discard); ok || in != nil || err != nil {
			t.Errorf("stream failing %s: %v %+v %v", name, ok, in, err)
		}
	}
}

// FuzzAttachedKeysFrom: the keys found do not depend on how the message's
// bytes come in pieces, and each is one block from BEGIN to END.
func FuzzAttachedKeysFrom(f *testing.F) {
	f.Add([]byte("x\r\n-----BEGIN PGP PUBLIC KEY BLOCK-----\r\n\r\nAAAA\r\n-----END PGP PUBLIC KEY BLOCK-----\r\n"))
	f.Add([]byte("-----BEGIN PGP PUBLIC KEY BLOCK----------END PGP PUBLIC KEY BLOCK-----"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		whole, err := attachedKeysFrom(bytes.NewReader(raw))
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range []io.Reader{iotest.OneByteReader(bytes.NewReader(raw)), iotest.HalfReader(bytes.NewReader(raw))} {
			if got, err := attachedKeysFrom(r); err != nil || !slices.Equal(got, whole) {
				t.Fatalf("in pieces: %q, %v; whole: %q", got, err, whole)
			}
		}
		if len(whole) > 4 {
			t.Fatalf("%d keys", len(whole))
		}
		for _, k := range whole {
			if !strings.HasPrefix(k, string(pgpKey)) || !strings.HasSuffix(k, string(endPGPKey)) {
				t.Fatalf("key %q is not one block", k)
			}
		}
	})
}
