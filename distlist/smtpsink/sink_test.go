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
