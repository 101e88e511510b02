package distlist

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/secgate/secgate/distlist/smtpsink"
)

func dsnFor(t testing.TB, to, rcpt, action, status, msgid string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/postfix-dsn.eml")
	if err != nil {
		t.Fatal(err)
	}
	s := strings.NewReplacer("{{TO}}", to, "{{RCPT}}", rcpt, "{{ACTION}}", action, "{{STATUS}}", status, "{{MSGID}}", msgid).Replace(string(b))
	return []byte(strings.ReplaceAll(s, "\n", "\r\n"))
}

func TestParseDSN(t *testing.T) {
	d, err := ParseDSN(dsnFor(t, "bounce+abc@example.org", "x@distro.example", "failed", "5.1.1", "m1@example.org"))
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Recipients) != 1 || d.ReportingMTA != "mx.example.org" || d.OriginalMessageID != "m1@example.org" {
		t.Fatalf("%+v", d)
	}
	r := d.Recipients[0]
	if r.FinalRecipient != "x@distro.example" || r.Action != "failed" || r.Status != "5.1.1" || !r.Hard() ||
		!strings.Contains(r.DiagnosticCode, "User unknown") || r.RemoteMTA != "mx.distro.example" {
		t.Errorf("%+v", r)
	}
	if len(d.Addressees) < 2 || d.Addressees[0] != "bounce+abc@example.org" {
		t.Errorf("addressees %v", d.Addressees)
	}
	for _, bad := range []string{"", "Subject: hi\r\n\r\nbody", "Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\n\r\n--x--\r\n"} {
		if _, err := ParseDSN([]byte(bad)); !errors.Is(err, ErrNotDSN) {
			t.Errorf("ParseDSN(%q) = %v, want ErrNotDSN", bad, err)
		}
	}
}

func TestHandleDSN(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, smtpsink.Options{}, func(c *Config) { c.BounceFlagAfter = 2 })
	rcpts := []Recipient{{Address: "gone@distro.example"}, {Address: "full@distro.example"}}
	e.enqueue(Mail{Kind: "announcement", NoticeID: "n1", Content: textContent("s", "b"), Recipients: rcpts})
	e.drain()
	rows := e.rows("n1")
	tokOf := func(rcpt string) string { return envelopeFrom(e.ob.cfg.Bounce, verpToken(e.ob.secret, "n1", rcpt)) }

	// a delay is recorded, nothing changes
	ok, err := e.ob.HandleDSN(ctx, dsnFor(t, tokOf("full@distro.example"), "full@distro.example", "delayed", "4.2.2", rows["full@distro.example"].MessageID))
	if err != nil || !ok {
		t.Fatalf("delayed: %v %v", ok, err)
	}
	if r := e.rows("n1")["full@distro.example"]; r.State != StateSent {
		t.Errorf("delayed DSN changed the row: %+v", r)
	}
	// a hard failure bounces the row
	ok, err = e.ob.HandleDSN(ctx, dsnFor(t, tokOf("gone@distro.example"), "gone@distro.example", "failed", "5.1.1", rows["gone@distro.example"].MessageID))
	if err != nil || !ok {
		t.Fatalf("failed: %v %v", ok, err)
	}
	r := e.rows("n1")["gone@distro.example"]
	if r.State != StateBounced || !strings.Contains(r.Reply, "5.1.1") || !strings.Contains(r.Reply, "User unknown") {
		t.Errorf("bounced row: %+v", r)
	}
	// a forged token (right form, wrong HMAC), an unknown one and none at all do not match
	forged := "bounce+" + strings.Repeat("a", 20) + "@example.org"
	for _, to := range []string{forged, "security@example.org", "bounce+" + verpToken([]byte("other secret"), "n1", "full@distro.example") + "@example.org"} {
		raw := []byte(strings.Replace(string(dsnFor(t, to, "full@distro.example", "failed", "5.1.1", "x@y")), "Delivered-To: security+bounce@example.org\r\n", "", 1))
		if ok, err := e.ob.HandleDSN(ctx, raw); ok || err != nil {
			t.Errorf("DSN to %s matched=%v err=%v", to, ok, err)
		}
	}
	if r := e.rows("n1")["full@distro.example"]; r.State != StateSent {
		t.Errorf("a forged DSN changed the row: %+v", r)
	}
	// a second hard bounce for the same address flags it
	e.enqueue(Mail{Kind: "announcement", NoticeID: "n2", Content: textContent("s", "b"), Recipients: rcpts[:1]})
	e.drain()
	to2 := envelopeFrom(e.ob.cfg.Bounce, verpToken(e.ob.secret, "n2", "gone@distro.example"))
	if ok, err := e.ob.HandleDSN(ctx, dsnFor(t, to2, "gone@distro.example", "failed", "5.1.1", "x@y")); !ok || err != nil {
		t.Fatalf("second bounce: %v %v", ok, err)
	}
	fl, err := e.dir.Flagged(ctx)
	if err != nil || len(fl) != 1 || fl[0].Address != "gone@distro.example" || fl[0].HardBounce != 2 {
		t.Fatalf("flagged = %+v %v", fl, err)
	}
	var kinds []string
	for _, ev := range e.Events() {
		kinds = append(kinds, ev.Kind)
	}
	if strings.Join(kinds, ",") != "bounced,flagged" {
		t.Errorf("events %v", kinds)
	}
	kinds = nil
	stored, err := e.ob.UntoldEvents(ctx, 0, 10)
	for _, ev := range stored {
		kinds = append(kinds, ev.Kind+" "+ev.Recipient)
	}
	if err != nil || strings.Join(kinds, ",") != "bounced gone@distro.example,flagged gone@distro.example" {
		t.Errorf("events recorded with the bounces: %v %v", kinds, err)
	}
	if rep, _ := e.dir.KeyReport(ctx, 0, nil, nil); !strings.Contains(rep, "gone@distro.example: 2 hard bounces") {
		t.Errorf("key report does not show the flag:\n%s", rep)
	}
	// a DSN whose addressee was rewritten still matches by its ENVID
	e.enqueue(Mail{Kind: "announcement", NoticeID: "n3", Content: textContent("s", "b"), Recipients: rcpts[1:]})
	e.drain()
	raw := string(dsnFor(t, "security@example.org", "full@distro.example", "failed", "4.4.7", "x@y"))
	raw = strings.Replace(raw, "Delivered-To: security+bounce@example.org\r\n", "", 1)
	raw = strings.Replace(raw, "Reporting-MTA: dns; mx.example.org\r\n", "Reporting-MTA: dns; mx.example.org\r\nOriginal-Envelope-Id: "+verpToken(e.ob.secret, "n3", "full@distro.example")+"\r\n", 1)
	if ok, err := e.ob.HandleDSN(ctx, []byte(raw)); !ok || err != nil {
		t.Fatalf("ENVID match: %v %v", ok, err)
	}
	if r := e.rows("n3")["full@distro.example"]; r.State != StateBounced {
		t.Errorf("ENVID bounce: %+v", r)
	}
	// not a DSN at all
	if _, err := e.ob.HandleDSN(ctx, []byte("Subject: hello\r\n\r\nhi\r\n")); !errors.Is(err, ErrNotDSN) {
		t.Errorf("plain mail: %v", err)
	}
}

func FuzzParseDSN(f *testing.F) {
	f.Add(dsnFor(f, "bounce+abc@example.org", "x@distro.example", "failed", "5.1.1", "m1@example.org"))
	f.Add(dsnFor(f, "a@b", "y@z", "delayed", "4.4.1", "m@x"))
	f.Add([]byte("Content-Type: multipart/report; report-type=delivery-status; boundary=b\r\n\r\n--b\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; x\r\n\r\nFinal-Recipient: rfc822; a@b\r\nAction: failed\r\nStatus: 5.0.0\r\n--b--\r\n"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		d, err := ParseDSN(raw)
		if err != nil {
			if !errors.Is(err, ErrNotDSN) {
				t.Fatalf("error not ErrNotDSN: %v", err)
			}
			return
		}
		if len(d.Recipients) == 0 || len(d.Recipients) > maxDSNRecipients {
			t.Fatalf("%d recipients", len(d.Recipients))
		}
		for _, r := range d.Recipients {
			if r.FinalRecipient == "" || r.Action == "" || strings.ContainsAny(r.DiagnosticCode, "\r\n\x00") {
				t.Fatalf("bad recipient %+v", r)
			}
		}
	})
}
