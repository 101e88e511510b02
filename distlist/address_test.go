package distlist

import (
	"bytes"
	"errors"
	"net/mail"
	"strings"
	"testing"

	"github.com/secgate/secgate/distlist/smtpsink"
)

func TestCanonicalAddress(t *testing.T) {
	tests := []struct {
		in   string
		want string // "" means ErrBadAddress
	}{
		{"rita@example.org", "rita@example.org"},
		{"Rita <Rita@Example.ORG>", "rita@example.org"},
		{"  rita@example.org ", "rita@example.org"},
		{`"john q doe"@example.org`, `"john q doe"@example.org`},
		{`"John Q Doe" <"John Q Doe"@Example.org>`, `"john q doe"@example.org`},
		{`"john"@example.org`, "john@example.org"}, // needless quotes go
		{`"john..doe"@example.org`, `"john..doe"@example.org`},
		{`"a\"b"@example.org`, `"a\"b"@example.org`},
		{`"<a@b>"@evil.example`, `"<a@b>"@evil.example`},
		// net/mail's Address.Address, the local part unquoted: read
		// back when it holds nothing but atext, dots and spaces.
		{"john q doe@example.org", `"john q doe"@example.org`},
		{"john..doe@example.org", `"john..doe"@example.org`},
		// Internationalised (RFC 6531, 6532).
		{"δοκιμή@παράδειγμα.δοκιμή", "δοκιμή@παράδειγμα.δοκιμή"},
		{"Δοκιμή@Παράδειγμα.δοκιμή", "δοκιμή@παράδειγμα.δοκιμή"},
		{"user@bücher.example", "user@bücher.example"},
		{"Bücher GmbH <user@BÜCHER.example>", "user@bücher.example"},
		// Never the address between < and > of something that is not one.
		{"<a@b>@evil.example", ""},
		{"Name <a@b>@evil.example", ""},
		{"<a@b", ""},
		{"a@b>", ""},
		{"a@b <c@d>", ""},
		{"x <a@b> y", ""},
		{"a@b, c@d", ""},
		{"a@b@c", ""},
		{"", ""},
		{"no-at", ""},
		{"a@", ""},
		{"@b", ""},
		{"a@b.", ""},
		{"a\r\n@b", ""},
		{"\"a\tb\"@example.org", ""},
		{"\"a\x7fb\"@example.org", ""},
		{"ri\u202eta@example.org", ""},
		{"rita@exa\u200bmple.org", ""},
	}
	for _, tc := range tests {
		got, err := CanonicalAddress(tc.in)
		switch {
		case tc.want == "" && !errors.Is(err, ErrBadAddress):
			t.Errorf("CanonicalAddress(%q) = %q, %v; want ErrBadAddress", tc.in, got, err)
		case tc.want != "" && (err != nil || got != tc.want):
			t.Errorf("CanonicalAddress(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
		if err != nil {
			continue
		}
		// The canonical form is an address of its own, the same one.
		if again, err := CanonicalAddress(got); err != nil || again != got {
			t.Errorf("CanonicalAddress(%q) = %q, %v; not stable", got, again, err)
		}
		if _, err := mail.ParseAddress(got); err != nil {
			t.Errorf("canonical %q does not parse: %v", got, err)
		}
	}
}

func TestSameAddress(t *testing.T) {
	tests := []struct {
		a, b string
		want bool
	}{
		{"rita@example.org", "Rita <RITA@example.org>", true},
		{`"john q doe"@example.org`, "john q doe@example.org", true},
		{`"john"@example.org`, "john@example.org", true},
		{"rita@example.org", "rita@example.net", false},
		{"<a@b>@evil.example", "a@b", false},
		{"", "", false},
	}
	for _, tc := range tests {
		if got := SameAddress(tc.a, tc.b); got != tc.want {
			t.Errorf("SameAddress(%q, %q) = %v, want %v", tc.a, tc.b, got, tc.want)
		}
	}
}

// TestQuotedLocalPart: a recipient whose local part must be quoted gets
// the message, with the quotes in RCPT TO and in the To header, whether
// the caller gave the address as written or as net/mail decodes it.
func TestQuotedLocalPart(t *testing.T) {
	e := newEnv(t, smtpsink.Options{}, nil)
	for notice, addr := range map[string]string{"quoted-as-written": `"john q doe"@example.org`, "quoted-as-decoded": "john q doe@example.org"} {
		if sk := e.enqueue(Mail{Kind: "ack", NoticeID: notice, Content: textContent("Received", "hello"),
			Recipients: []Recipient{{Name: "John Q. Doe", Address: addr}}}); len(sk) > 0 {
			t.Fatalf("%s: skipped %v", notice, sk)
		}
	}
	e.drain()
	for _, notice := range []string{"quoted-as-written", "quoted-as-decoded"} {
		rows := e.rows(notice)
		r, ok := rows[`"john q doe"@example.org`]
		if !ok || r.State != StateSent {
			t.Fatalf("%s: rows %+v, want one sent to \"john q doe\"@example.org", notice, rows)
		}
	}
	for _, c := range e.sink.Commands() {
		if strings.HasPrefix(c, "RCPT") && c != `RCPT TO:<"john q doe"@example.org>` {
			t.Errorf("envelope recipient %q", c)
		}
	}
	msgs := e.sink.Messages()
	if len(msgs) != 2 {
		t.Fatalf("%d messages, want 2", len(msgs))
	}
	for _, m := range msgs {
		msg, err := mail.ReadMessage(bytes.NewReader(m.Data))
		if err != nil {
			t.Fatal(err)
		}
		if to := msg.Header.Get("To"); to != `"John Q. Doe" <"john q doe"@example.org>` {
			t.Errorf("To: %s", to)
		}
	}
}

// TestSMTPUTF8: an internationalised address goes with SMTPUTF8 and raw
// UTF-8 in the header (RFC 6531, 6532) when the server offers it; when it
// does not, its row fails at once with the reason, rather than sending a
// mangled address, and the other rows go as usual.
func TestSMTPUTF8(t *testing.T) {
	intl := []string{"δοκιμή@παράδειγμα.δοκιμή", "user@bücher.example"}
	for _, offered := range []bool{true, false} {
		e := newEnv(t, smtpsink.Options{SMTPUTF8: offered}, nil)
		var rcpts []Recipient
		for _, a := range append([]string{"ascii@example.org"}, intl...) {
			rcpts = append(rcpts, Recipient{Name: "Δοκιμή", Address: a})
		}
		if sk := e.enqueue(Mail{Kind: "announcement", NoticeID: "intl", Content: textContent("Hello", "body"), Recipients: rcpts}); len(sk) > 0 {
			t.Fatalf("skipped %v", sk)
		}
		e.drain()
		rows := e.rows("intl")
		if r := rows["ascii@example.org"]; r.State != StateSent {
			t.Errorf("offered=%v: ascii row %+v", offered, r)
		}
		for _, a := range intl {
			r := rows[a]
			switch {
			case offered && r.State != StateSent:
				t.Errorf("%s: %s (%s), want sent", a, r.State, r.Reply)
			case !offered && (r.State != StateFailed || r.Attempts != 1 || !strings.Contains(r.Reply, "SMTPUTF8")):
				t.Errorf("%s: %s after %d attempts (%s), want failed at once for want of SMTPUTF8", a, r.State, r.Attempts, r.Reply)
			}
		}
		msgs := e.sink.Messages()
		if !offered {
			var sent []string
			for _, m := range msgs {
				sent = append(sent, strings.Join(m.To, ","))
			}
			if len(msgs) != 1 || sent[0] != "ascii@example.org" || msgs[0].UTF8 {
				t.Errorf("without SMTPUTF8: sent to %q, want the ASCII one alone", sent)
			}
			continue
		}
		if len(msgs) != 3 {
			t.Fatalf("%d messages, want 3", len(msgs))
		}
		for _, m := range msgs {
			to := m.To[0]
			if m.UTF8 != (to != "ascii@example.org") {
				t.Errorf("%s: SMTPUTF8 %v", to, m.UTF8)
			}
			if !m.UTF8 {
				continue
			}
			msg, err := mail.ReadMessage(bytes.NewReader(m.Data))
			if err != nil {
				t.Fatal(err)
			}
			h := msg.Header.Get("To")
			if !strings.HasSuffix(h, " <"+to+">") {
				t.Errorf("To: %s, want the address in raw UTF-8", h)
			}
			if a, err := mail.ParseAddress(h); err != nil || a.Address != to || a.Name != "Δοκιμή" {
				t.Errorf("To: %s parses to %v, %v", h, a, err)
			}
		}
		var smtputf8 int
		for _, c := range e.sink.Commands() {
			if strings.HasPrefix(c, "MAIL") && strings.HasSuffix(c, " SMTPUTF8") {
				smtputf8++
			}
		}
		if smtputf8 != 2 {
			t.Errorf("%d MAIL commands with SMTPUTF8, want 2: %q", smtputf8, e.sink.Commands())
		}
	}
}

// TestNoAddressBetweenAngles: a string that is not an address is never
// answered at what stands between its < and >: not as a recipient, not as
// a DSN's recipient, not as the address a DSN came to.
func TestNoAddressBetweenAngles(t *testing.T) {
	const hostile = "<a@b>@evil.example"
	e := newEnv(t, smtpsink.Options{}, nil)
	sk := e.enqueue(Mail{Kind: "ack", NoticeID: "hostile", Content: textContent("s", "b"), Recipients: []Recipient{{Address: hostile}}})
	if len(sk) != 1 || sk[0].Reason != "invalid address" || len(e.rows("hostile")) != 0 {
		t.Errorf("recipient %s: skipped %v, rows %v", hostile, sk, e.rows("hostile"))
	}

	tok := verpToken(e.ob.secret, "n1", "x@distro.example")
	bounce := envelopeFrom(e.ob.cfg.Bounce, tok)
	tests := []struct {
		to, rcpt string
		final    string // FinalRecipient
		token    bool   // the token is found in the To field
	}{
		{bounce, "x@distro.example", "x@distro.example", true},
		{"<" + bounce + ">", "<x@distro.example>", "x@distro.example", true},
		{`"Doe, John" <` + bounce + ">", `"x"@distro.example`, "x@distro.example", true},
		{"<" + bounce + ">@evil.example", hostile, hostile, false},
		{"Name <" + bounce + ">@evil.example", "Name <a@b>@evil.example", "name <a@b>@evil.example", false},
	}
	for _, tc := range tests {
		d, err := ParseDSN(dsnFor(t, tc.to, tc.rcpt, "failed", "5.1.1", "m1@example.org"))
		if err != nil {
			t.Fatalf("%s: %v", tc.to, err)
		}
		if got := d.Recipients[0].FinalRecipient; got != tc.final || got == "a@b" {
			t.Errorf("Final-Recipient %q read as %q, want %q", tc.rcpt, got, tc.final)
		}
		found := false
		for _, a := range d.Addressees {
			found = found || tokenFromAddress(e.ob.cfg.Bounce, a) == tok
			if a == bounce && !tc.token {
				t.Errorf("To %q read as %q", tc.to, a)
			}
		}
		if found != tc.token {
			t.Errorf("To %q: token found %v, want %v (addressees %q)", tc.to, found, tc.token, d.Addressees)
		}
	}
}
