package smtpsink

import (
	"errors"
	"strings"
	"testing"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

func send(t *testing.T, s *Sink, auth bool, to string) error {
	t.Helper()
	c, err := smtp.Dial(s.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if auth {
		if err := c.Auth(sasl.NewPlainClient("", "u", "p")); err != nil {
			return err
		}
	}
	if err := c.Mail("from@example.org", nil); err != nil {
		return err
	}
	if err := c.Rcpt(to, nil); err != nil {
		return err
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	w.Write([]byte("Subject: x\r\n\r\nbody\r\n"))
	return w.Close()
}

func TestFaults(t *testing.T) {
	s, err := Start(Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	tests := []struct {
		to   string
		code int
	}{
		{"ok@x.example", 0},
		{"temperror@x.example", 451},
		{"permerror@x.example", 550},
		{"a.452@x.example", 452},
		{"a+data552@x.example", 552},
		{"once-421@x.example", 421},
		{"once-421@x.example", 0},
	}
	for _, tt := range tests {
		err := send(t, s, false, tt.to)
		var se *smtp.SMTPError
		switch {
		case tt.code == 0 && err != nil:
			t.Errorf("%s: %v", tt.to, err)
		case tt.code != 0 && (!errors.As(err, &se) || se.Code != tt.code):
			t.Errorf("%s: %v, want %d", tt.to, err, tt.code)
		}
	}
	msgs := s.Messages()
	if len(msgs) != 2 || !strings.Contains(string(msgs[0].Data), "\r\nbody\r\n") || s.Attempts("once-421@x.example") != 2 {
		t.Errorf("messages %d, attempts %d", len(msgs), s.Attempts("once-421@x.example"))
	}
	if err := send(t, s, false, "dropdata@x.example"); err == nil {
		t.Error("dropdata accepted")
	}
}

func TestAuth(t *testing.T) {
	s, err := Start(Options{User: "u", Password: "p"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := send(t, s, false, "a@x.example"); err == nil {
		t.Error("accepted without AUTH")
	}
	if err := send(t, s, true, "a@x.example"); err != nil {
		t.Error(err)
	}
}

// TestEnvelope: the sink keeps the MAIL and RCPT commands as they were
// written (a quoted local part stays quoted), offers SMTPUTF8 when asked
// and records whether a transaction used it.
func TestEnvelope(t *testing.T) {
	for _, utf8 := range []bool{false, true} {
		s, err := Start(Options{SMTPUTF8: utf8})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		c, err := smtp.Dial(s.Addr)
		if err != nil {
			t.Fatal(err)
		}
		if ok, _ := c.Extension("SMTPUTF8"); ok != utf8 {
			t.Errorf("SMTPUTF8 offered: %v, want %v", ok, utf8)
		}
		if err := c.Mail("from@example.org", &smtp.MailOptions{UTF8: utf8}); err != nil {
			t.Fatal(err)
		}
		for _, to := range []string{`"john q doe"@example.org`, "dotted..once@example.org"} {
			if err := c.Rcpt(to, nil); err != nil {
				t.Fatal(err)
			}
		}
		w, err := c.Data()
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte("Subject: x\r\n\r\nRCPT TO:<not-a-command@example.org>\r\n"))
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		c.Quit()
		mail := "MAIL FROM:<from@example.org> BODY=8BITMIME"
		if utf8 {
			mail += " SMTPUTF8"
		}
		want := []string{mail, `RCPT TO:<"john q doe"@example.org>`, "RCPT TO:<dotted..once@example.org>"}
		if got := s.Commands(); strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("commands %q, want %q", got, want)
		}
		msgs := s.Messages()
		if len(msgs) != 1 || msgs[0].UTF8 != utf8 || strings.Join(msgs[0].To, ",") != "john q doe@example.org,dotted..once@example.org" {
			t.Errorf("messages %+v", msgs)
		}
	}
}
