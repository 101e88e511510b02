package crypto

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestTextBody(t *testing.T) {
	tests := []struct {
		name   string
		entity string
		text   string
		atts   []string // filename/content type
	}{
		{"plain", "Content-Type: text/plain; charset=utf-8\r\n\r\nHello\r\n", "Hello\n", nil},
		{"no header", "\r\nHello\r\n", "Hello\n", nil},
		{"quoted-printable", "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nZo=C3=AB =\r\nM.\r\n", "Zoë M.\n", nil},
		{"base64", "Content-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\nSGVsbG8gd29ybGQ=\r\n", "Hello world\n", nil},
		{"latin1", "Content-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: 8bit\r\n\r\nHall\xe4\r\n", "Hallä\n", nil},
		{"html only", "Content-Type: text/html\r\n\r\n<p>Hello&nbsp;<b>you</b></p><script>alert(1)</script><p>Bye</p>", "Hello\u00a0you\n\nBye\n", nil},
		{"alternative prefers plain", "Content-Type: multipart/alternative; boundary=a\r\n\r\n--a\r\nContent-Type: text/plain\r\n\r\nplain\r\n--a\r\nContent-Type: text/html\r\n\r\n<p>html</p>\r\n--a--\r\n", "plain\n", nil},
		{"mixed with attachment", "Content-Type: multipart/mixed; boundary=m\r\n\r\n--m\r\nContent-Type: text/plain\r\n\r\nsee poc\r\n--m\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=\"poc.bin\"\r\nContent-Transfer-Encoding: base64\r\n\r\nAAEC\r\n--m\r\nContent-Type: text/plain\r\nContent-Disposition: attachment; filename=\"log.txt\"\r\n\r\nlog\r\n--m--\r\n", "see poc\n", []string{"poc.bin/application/octet-stream", "log.txt/text/plain"}},
		{"signature part dropped", "Content-Type: multipart/signed; boundary=s; protocol=\"application/pgp-signature\"\r\n\r\n--s\r\nContent-Type: text/plain\r\n\r\nsigned\r\n--s\r\nContent-Type: application/pgp-signature\r\n\r\nsig\r\n--s--\r\n", "signed\n", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			text, atts, err := TextBody([]byte(tt.entity))
			if err != nil {
				t.Fatal(err)
			}
			if text != tt.text {
				t.Errorf("text = %q, want %q", text, tt.text)
			}
			var got []string
			for _, a := range atts {
				got = append(got, a.Filename+"/"+a.ContentType)
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.atts) {
				t.Errorf("attachments %v, want %v", got, tt.atts)
			}
			if len(atts) > 0 && atts[0].Filename == "poc.bin" && string(atts[0].Data) != "\x00\x01\x02" {
				t.Errorf("attachment data %q", atts[0].Data)
			}
		})
	}
}

// TestTextBodyFlowed: format=flowed text (RFC 3676) reads as its sender's
// client shows it, so a command cannot hide at the start of a line that
// is really the end of the line before.
func TestTextBodyFlowed(t *testing.T) {
	const flowed = "Content-Type: text/plain; charset=utf-8; format=flowed\r\n\r\n"
	const delsp = "Content-Type: text/plain; charset=utf-8; format=flowed; delsp=yes\r\n\r\n"
	tests := []struct {
		name, entity, text string
	}{
		{"soft break", flowed + "please look \r\n/status incomplete\r\n", "please look /status incomplete\n"},
		{"hard breaks", flowed + "please look\r\n/status incomplete\r\n", "please look\n/status incomplete\n"},
		{"not flowed", "Content-Type: text/plain\r\n\r\nplease look \r\n/status incomplete\r\n", "please look \n/status incomplete\n"},
		{"format=fixed", "Content-Type: text/plain; format=fixed\r\n\r\nplease look \r\n/status incomplete\r\n", "please look \n/status incomplete\n"},
		{"paragraphs", flowed + "one \r\ntwo \r\nthree\r\n\r\nfour \r\nfive\r\n", "one two three\n\nfour five\n"},
		{"delsp=yes", delsp + "Zusammen \r\ngesetzt and \r\n /status x\r\n", "Zusammengesetzt and/status x\n"},
		{"delsp=no", flowed + "Zusammen \r\ngesetzt\r\n", "Zusammen gesetzt\n"},
		{"quoted paragraph", flowed + "> quoted text \r\n> continues\r\nmy reply \r\ncontinues\r\n", "> quoted text continues\nmy reply continues\n"},
		{"deeper quote", flowed + ">> deep \r\n>> er\r\n> one\r\n", ">> deep er\n> one\n"},
		{"quote depth change", flowed + "> one \r\n>> two \r\nthree\r\n", "> one \n>> two \nthree\n"},
		{"quoted after unquoted", flowed + "reply \r\n> /status incomplete\r\n", "reply \n> /status incomplete\n"},
		{"space-stuffed From", flowed + " From the start \r\nof the line\r\n", "From the start of the line\n"},
		{"space-stuffed quote", flowed + "> > not deeper\r\n", "> > not deeper\n"},
		{"signature separator", flowed + "Thanks \r\n-- \r\nAlice \r\nExample Corp\r\n", "Thanks \n-- \nAlice Example Corp\n"},
		{"last line soft", flowed + "end \r\n", "end \n"},
		{"quoted-printable", "Content-Type: text/plain; format=flowed\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nplease look=20\r\n/status incomplete\r\n", "please look /status incomplete\n"},
		{"in multipart", "Content-Type: multipart/mixed; boundary=m\r\n\r\n--m\r\n" + flowed + "please look \r\n/status incomplete\r\n--m--\r\n", "please look /status incomplete\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			text, _, err := TextBody([]byte(tt.entity))
			if err != nil {
				t.Fatal(err)
			}
			if text != tt.text {
				t.Errorf("text = %q, want %q", text, tt.text)
			}
		})
	}
}

// TestSignedFlowed: the signed part of a multipart/signed keeps its
// format=flowed, and its text is read unflowed.
func TestSignedFlowed(t *testing.T) {
	alice := testKey(t, "alice")
	entity := "Content-Type: text/plain; charset=utf-8; format=flowed\r\n\r\nplease look \r\n/status incomplete\r\n"
	s, err := alice.Sign(Content{Subject: "x", Entity: []byte(entity)}, t0)
	if err != nil {
		t.Fatal(err)
	}
	o, err := Open(outerMessage(entityOf(t, s)), OpenOptions{Verifiers: []*Key{alice.Public()}, Now: t0})
	if err != nil || o.Signature == nil || o.Signature.Err != nil || !o.Signature.Whole {
		t.Fatalf("Open: %v %+v", err, o)
	}
	text, _, err := TextBody(o.Entity)
	if err != nil || text != "please look /status incomplete\n" {
		t.Fatalf("TextBody = %q, %v", text, err)
	}
}

func TestTextBodyLimits(t *testing.T) {
	deep := ""
	for i := 0; i < 20; i++ {
		deep += fmt.Sprintf("Content-Type: multipart/mixed; boundary=\"b%d\"\r\n\r\n--b%d\r\n", i, i)
	}
	deep += "Content-Type: text/plain\r\n\r\nx\r\n"
	many := "Content-Type: multipart/mixed; boundary=b\r\n\r\n" + strings.Repeat("--b\r\n\r\nx\r\n", 400) + "--b--\r\n"
	for name, e := range map[string]string{"deep": deep, "many": many} {
		if _, _, err := TextBody([]byte(e)); !errors.Is(err, ErrTooComplex) {
			t.Errorf("%s: err = %v, want ErrTooComplex", name, err)
		}
	}
	if _, _, err := TextBody([]byte("\x00\x01 binary junk")); !errors.Is(err, ErrNotMIME) {
		t.Errorf("junk: err = %v, want ErrNotMIME", err)
	}
}

func TestProtectedHeaders(t *testing.T) {
	team := testKey(t, "team")
	s, err := team.Sign(Content{Subject: "Zoë's report", From: "Security <security@example.org>", Entity: []byte(textEntityCRLF)}, t0)
	if err != nil {
		t.Fatal(err)
	}
	o, err := Open(outerMessage(entityOf(t, s)), OpenOptions{Verifiers: []*Key{team}, Now: t0})
	if err != nil {
		t.Fatal(err)
	}
	subj, from, ok := ProtectedHeaders(o.Entity)
	if !ok || subj != "Zoë's report" || from != "Security <security@example.org>" {
		t.Errorf("ProtectedHeaders = %q %q %v", subj, from, ok)
	}
	if _, _, ok := ProtectedHeaders([]byte(textEntityCRLF)); ok {
		t.Error("ProtectedHeaders found a subject in an entity without one")
	}
	// Long subjects are folded, non-ASCII names encoded; both come back.
	long := strings.Repeat("Embargoed déjà-vu advisory ", 12)
	s, err = team.Sign(Content{Subject: long, From: "Zoë Team <security@example.org>", Entity: []byte(textEntityCRLF)}, t0)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(entityOf(t, s)), "\r\n") {
		if len(line) > 100 {
			t.Errorf("line of %d characters: %q", len(line), line)
		}
		if !isASCII(line) {
			t.Errorf("8-bit header line %q", line)
		}
	}
	o, _ = Open(outerMessage(entityOf(t, s)), OpenOptions{Verifiers: []*Key{team}, Now: t0})
	if subj, from, _ := ProtectedHeaders(o.Entity); subj != long || from != "Zoë Team <security@example.org>" {
		t.Errorf("ProtectedHeaders = %q %q", subj, from)
	}
	// Header injection through the subject is neutralised.
	s, _ = team.Sign(Content{Subject: "a\r\nBcc: evil@example.org", Entity: []byte(textEntityCRLF)}, t0)
	if strings.Contains(string(entityOf(t, s)), "\r\nBcc:") {
		t.Error("CRLF in subject reached the header")
	}
}

// TestClearsignedFlowed: a cleartext-signed block in a format=flowed body
// is refused: its signature does not cover the trailing blanks that mark
// where the signer's client joined lines.
func TestClearsignedFlowed(t *testing.T) {
	alice := testKey(t, "alice")
	block := string(clearsignedBy(t, alice, "please look at this \n/status incomplete\n"))
	for _, tc := range []struct {
		params string
		ok     bool
	}{{"", true}, {"; format=flowed", false}, {"; format=Flowed; delsp=yes", false}} {
		raw := "From: alice@example.org\r\nContent-Type: text/plain; charset=utf-8" + tc.params + "\r\n\r\n" + block
		o, err := Open([]byte(raw), OpenOptions{Verifiers: []*Key{alice.Public()}, Now: t0})
		if err != nil {
			t.Fatal(err)
		}
		if got := o.Signature != nil && o.Signature.Err == nil; got != tc.ok {
			t.Errorf("Content-Type params %q: signature valid %v, want %v (%+v)", tc.params, got, tc.ok, o.Signature)
		}
	}
}
