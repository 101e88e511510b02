package crypto

import (
	"bytes"
	"io"
	"strings"
	"testing"
	"time"
)

// entityStream is an EntityStream writing entity in writes of n bytes.
func entityStream(entity []byte, n int) *EntityStream {
	return &EntityStream{Size: int64(len(entity)), Write: func(w io.Writer) error {
		for b := entity; len(b) > 0; {
			k := min(n, len(b))
			if _, err := w.Write(b[:k]); err != nil {
				return err
			}
			b = b[k:]
		}
		return nil
	}}
}

// TestSignStream: content written on demand is signed and sealed to what
// the same content held whole gives: the member decrypts the same signed
// entity, and the team's signature over it verifies, whatever the size
// of the writes; the clear variant is the same too.
func TestSignStream(t *testing.T) {
	team := loadTestKey(t, "team-x25519")
	member := loadTestKey(t, "member-x25519")
	now := time.Now()
	body := strings.Repeat("QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo=\r\n", 3000)
	entity := []byte("Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nhello\r\n--b1\r\n" +
		"Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\nContent-Disposition: attachment; filename=a.bin\r\n\r\n" + body + "--b1--\r\n")
	whole, err := team.Sign(Content{Subject: "s", From: "team@example.org", Entity: entity}, now)
	if err != nil {
		t.Fatal(err)
	}
	open := func(s *Signed) []byte {
		t.Helper()
		sealed, err := s.SealFor(member.Public(), now)
		if err != nil {
			t.Fatal(err)
		}
		op, err := Open(sealed, OpenOptions{Decrypt: member, Verifiers: []*Key{team.Public()}, Now: now})
		if err != nil {
			t.Fatal(err)
		}
		if op.Signature == nil || op.Signature.Err != nil || !op.Signature.Whole {
			t.Fatalf("signature %+v", op.Signature)
		}
		return op.Entity
	}
	want := open(whole)
	wantClear, err := whole.Entity()
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{1, 7, 4096, 1 << 20} {
		s, err := team.Sign(Content{Subject: "s", From: "team@example.org", Stream: entityStream(entity, n)}, now)
		if err != nil {
			t.Fatal(err)
		}
		if got := open(s); !bytes.Equal(got, want) {
			t.Errorf("writes of %d: decrypted entity of %d bytes differs from the %d of the whole content", n, len(got), len(want))
		}
		if s.SealedLen() != whole.SealedLen() {
			t.Errorf("writes of %d: SealedLen %d, whole %d", n, s.SealedLen(), whole.SealedLen())
		}
		clear, err := s.Entity()
		if err != nil {
			t.Fatal(err)
		}
		// The boundaries differ; the signed parts do not.
		if len(clear) != len(wantClear) {
			t.Errorf("writes of %d: clear entity of %d bytes, whole %d", n, len(clear), len(wantClear))
		}
	}
}

// TestSignStreamRefused: a streamed entity that is not a multipart, whose
// body is not 7-bit CRLF text, or that holds the boundary of the signed
// part around it, is refused, never signed as it is.
func TestSignStreamRefused(t *testing.T) {
	teamKey := loadTestKey(t, "team-x25519")
	member := loadTestKey(t, "member-x25519")
	now := time.Now()
	head := "Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n--b1\r\nContent-Type: text/plain\r\n\r\n"
	tests := map[string]string{
		"not multipart":      "Content-Type: text/plain\r\n\r\nhello\r\n",
		"8-bit":              head + "caf\xc3\xa9\r\n--b1--\r\n",
		"bare LF":            head + "a\nb\r\n--b1--\r\n",
		"bare CR":            head + "a\rb\r\n--b1--\r\n",
		"boundary inside":    head + "xBOUNDARY-1x\r\n--b1--\r\n",
		"boundary at a join": head + strings.Repeat("y", 4096-len(head)-4) + "BOUNDARY-1\r\n--b1--\r\n",
		"no header end":      "Content-Type: multipart/mixed; boundary=b1\r\n",
	}
	for name, entity := range tests {
		t.Run(name, func(t *testing.T) {
			team := fixedBoundaries(teamKey) // the signed part's is BOUNDARY-1
			s, err := team.Sign(Content{Subject: "s", Stream: entityStream([]byte(entity), 4096)}, now)
			if err == nil {
				_, err = s.SealFor(member.Public(), now)
			}
			if err == nil {
				t.Fatal("signed and sealed")
			}
		})
	}
}

// TestBodyCheckJoins: the boundary is found wherever the writes cut it,
// and a body without it passes whole, however it is cut.
func TestBodyCheckJoins(t *testing.T) {
	const boundary = "=_0123456789"
	for _, tc := range []struct {
		body string
		bad  bool
	}{
		{"abc\r\ndef=_0123456789\r\nxyz\r\n", true},
		{"=_0123456789", true},
		{"abc\r\n=_012345678\r\n9\r\n", false},
	} {
		for i := 0; i <= len(tc.body); i++ {
			for j := i; j <= len(tc.body); j++ {
				var out bytes.Buffer
				c := &bodyCheck{w: &out, boundary: []byte(boundary)}
				for _, p := range []string{tc.body[:i], tc.body[i:j], tc.body[j:]} {
					if _, err := c.Write([]byte(p)); err != nil {
						break
					}
				}
				if (c.err != nil) != tc.bad {
					t.Fatalf("%q cut at %d and %d: error %v, want one: %v", tc.body, i, j, c.err, tc.bad)
				}
				if !tc.bad && out.String() != tc.body {
					t.Fatalf("%q cut at %d and %d: passed on %q", tc.body, i, j, out.String())
				}
			}
		}
	}
}
