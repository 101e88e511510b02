package distlist

import (
	"bytes"
	"mime"
	"net/mail"
	"strings"
	"testing"

	"github.com/secgate/secgate/crypto"
	"github.com/secgate/secgate/distlist/smtpsink"
)

// hiddenChars are the characters templates.Visible shows as <U+XXXX>.
const hiddenChars = "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069" +
	"\u200b\u200c\u200d\u2060\ufeff\u180e" + "\u2028\u2029\u0085"

// TestHeadersShowHidden: a subject, a display name and a From taken from
// a report reach neither the outer header nor the signed protected header
// with a bidi control, a zero-width character or a line separator in them:
// each is shown as <U+XXXX>.
func TestHeadersShowHidden(t *testing.T) {
	e := newEnv(t, smtpsink.Options{}, nil)
	dana := testKey(t, "dana@vendor.example", "x25519", false)
	for _, encrypt := range []bool{false, true} {
		content := textContent("Advisory abc\u202efdp.exe\u2028x\u200by", "body")
		content.From = "Security\u2066 Team <security@example.org>"
		r := Recipient{Name: "Dana\u200d\u202eDistributor", Address: "dana@vendor.example"}
		notice := "hidden-clear"
		if encrypt {
			r.Key, notice = dana.Public(), "hidden-encrypted"
		}
		if sk := e.enqueue(Mail{Kind: "announcement", NoticeID: notice, Content: content, Encrypt: encrypt, Recipients: []Recipient{r}}); len(sk) > 0 {
			t.Fatalf("skipped: %v", sk)
		}
	}
	e.drain()
	msgs := e.sink.Messages()
	if len(msgs) != 2 {
		t.Fatalf("%d messages sent, want 2", len(msgs))
	}
	dec := new(mime.WordDecoder)
	for _, m := range msgs {
		msg, err := mail.ReadMessage(bytes.NewReader(m.Data))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range []string{"From", "To", "Subject"} {
			v, err := dec.DecodeHeader(msg.Header.Get(f))
			if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			if strings.ContainsAny(v, hiddenChars) {
				t.Errorf("%s: %q carries a hidden character", f, v)
			}
		}
		to, err := msg.Header.AddressList("To")
		if err != nil || len(to) != 1 || to[0].Name != "Dana<U+200D><U+202E>Distributor" {
			t.Errorf("To = %v (%v), want the name with its hidden characters shown", to, err)
		}
		op, err := crypto.Open(m.Data, crypto.OpenOptions{Decrypt: dana, Verifiers: []*crypto.Key{e.team.Public()}, Now: t0})
		if err != nil {
			t.Fatal(err)
		}
		subj, from, ok := crypto.ProtectedHeaders(op.Entity)
		if !ok {
			t.Fatal("no protected headers")
		}
		if want := "Advisory abc<U+202E>fdp.exe<U+2028>x<U+200B>y"; subj != want {
			t.Errorf("protected Subject %q, want %q", subj, want)
		}
		if strings.ContainsAny(from, hiddenChars) {
			t.Errorf("protected From %q carries a hidden character", from)
		}
		if !op.Encrypted {
			if s, _ := dec.DecodeHeader(msg.Header.Get("Subject")); s != subj {
				t.Errorf("outer Subject %q, want %q", s, subj)
			}
		}
	}
}

// TestThreadingHeadersASCII: a Message-ID taken from a report goes into
// In-Reply-To and References only when it is printable ASCII, so neither
// carries a hidden character nor makes the message need SMTPUTF8.
func TestThreadingHeadersASCII(t *testing.T) {
	tests := []struct{ in, want string }{
		{"<report-1@reporter.example>", "<report-1@reporter.example>"},
		{"report-1@reporter.example", "<report-1@reporter.example>"},
		{"<evil\u202e@reporter.example>", ""},
		{"<zero\u200b@reporter.example>", ""},
		{"<ümlaut@reporter.example>", ""},
		{"<a b@reporter.example>", ""},
		{"<no-at>", ""},
		{"<>", ""},
	}
	for _, tc := range tests {
		if got := msgID(tc.in); got != tc.want {
			t.Errorf("msgID(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
