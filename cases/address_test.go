package cases

import (
	"bytes"
	"database/sql"
	"errors"
	"net/mail"
	"slices"
	"strings"
	"testing"

	"github.com/secgate/secgate/crypto"
	"github.com/secgate/secgate/distlist"
	"github.com/secgate/secgate/distlist/smtpsink"
	"github.com/secgate/secgate/templates"
)

// openFrom opens a case from a clear report by from.
func (e *env) openFrom(from string) (*Case, error) {
	e.t.Helper()
	var c *Case
	err := e.db.Tx(e.ctx, func(tx *sql.Tx) error {
		var err error
		c, err = e.wf.OpenCase(e.ctx, tx, Report{MessageID: "<q-" + randHex() + "@reporter.example>", From: from,
			Subject: "bug", Text: "details", Received: e.clock.Now()})
		return err
	})
	return c, err
}

// deliver sends every queued row to a new in-process SMTP server and
// returns it.
func (e *env) deliver() *smtpsink.Sink {
	e.t.Helper()
	sink, err := smtpsink.Start(smtpsink.Options{})
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { sink.Close() })
	ob, err := distlist.NewOutbox(e.ctx, distlist.OutboxOptions{DB: e.db, Directory: e.dir, TeamKey: e.team, Clock: e.clock,
		Config: distlist.Config{From: "Security Team <" + teamAddr + ">", SMTP: distlist.SMTPConfig{Addr: sink.Addr, TLS: distlist.TLSNone}}})
	if err != nil {
		e.t.Fatal(err)
	}
	if err := ob.Flush(e.ctx); err != nil {
		e.t.Fatal(err)
	}
	return sink
}

// TestQuotedReporterAddress: a report from "john q doe"@example.org (a
// quoted local part, RFC 5322) opens a case with that address, however
// the caller wrote it; the acknowledgement and the team's /reply reach it
// with the quotes in RCPT TO and in the To header.
func TestQuotedReporterAddress(t *testing.T) {
	const want = `"john q doe"@example.org`
	for _, from := range []string{
		`"john q doe"@example.org`,
		`"John Q Doe" <"John Q Doe"@Example.org>`,
		`john q doe@example.org`, // as net/mail decodes it (intake's From)
	} {
		t.Run(from, func(t *testing.T) {
			e := newEnv(t)
			c, err := e.openFrom(from)
			if err != nil {
				t.Fatalf("OpenCase: %v", err)
			}
			if c.ReporterAddr != want {
				t.Fatalf("reporter address %q, want %q", c.ReporterAddr, want)
			}
			// The acknowledgement, queued as intake queues it: to the
			// address the report came from.
			set, err := templates.Load("")
			if err != nil {
				t.Fatal(err)
			}
			d := e.wf.data(c, nil)
			ack, err := set.Render(templates.Ack, d)
			if err != nil {
				t.Fatal(err)
			}
			err = e.db.Tx(e.ctx, func(tx *sql.Tx) error {
				sk, err := e.ob.Enqueue(e.ctx, tx, distlist.Mail{Kind: "ack", CaseID: c.ID, NoticeID: "ack-" + c.Ref,
					Content: textContentOf(ack), Recipients: []distlist.Recipient{{Address: from}}, Auto: true})
				if len(sk) > 0 {
					t.Errorf("ack skipped: %v", sk)
				}
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			alice := e.keys["alice@example.org"]
			e.handle(e.signed("alice@example.org", alice, "["+c.Ref+"]", "/reply Thanks, we are on it.", t0))
			if r := e.mailsTo(want, MailReporter); len(r) != 1 || !strings.Contains(r[0], "we are on it") {
				t.Fatalf("reply to the reporter: %q", r)
			}

			sink := e.deliver()
			var rcpts []string
			for _, c := range sink.Commands() {
				if strings.HasPrefix(c, "RCPT") && strings.Contains(c, "doe") {
					rcpts = append(rcpts, c)
				}
			}
			if len(rcpts) != 2 || rcpts[0] != `RCPT TO:<"john q doe"@example.org>` || rcpts[1] != rcpts[0] {
				t.Errorf("envelope recipients %q, want the acknowledgement and the reply to %s", rcpts, want)
			}
			var subjects []string
			for _, m := range sink.Messages() {
				if !slices.Contains(m.To, "john q doe@example.org") {
					continue
				}
				msg, err := mail.ReadMessage(bytes.NewReader(m.Data))
				if err != nil {
					t.Fatal(err)
				}
				if to := msg.Header.Get("To"); to != `<"john q doe"@example.org>` {
					t.Errorf("To: %s", to)
				}
				subjects = append(subjects, msg.Header.Get("Subject"))
			}
			if len(subjects) != 2 {
				t.Errorf("the reporter got %d messages (%q), want 2", len(subjects), subjects)
			}
		})
	}
}

func textContentOf(t templates.Text) crypto.Content {
	return crypto.Content{Subject: t.Subject, From: teamAddr, Entity: textEntity(t.Body)}
}

// TestReporterAddressNotBetweenAngles: a From that is not an address is
// refused, never answered at what stands between its < and >.
func TestReporterAddressNotBetweenAngles(t *testing.T) {
	e := newEnv(t)
	for _, from := range []string{"<a@b>@evil.example", "Name <a@b>@evil.example", "a@b, c@d", "<a@b"} {
		c, err := e.openFrom(from)
		if !errors.Is(err, ErrBadReport) {
			t.Errorf("OpenCase(From %q) = %+v, %v; want ErrBadReport", from, c, err)
		}
	}
	if n := e.count(`SELECT count(*) FROM cases`); n != 0 {
		t.Errorf("%d cases opened", n)
	}
}

// TestReporterKeyQuotedAddress: a follow-up from the reporter, named as
// intake names it, with a key whose user ID is the quoted address, gives
// the case its key.
func TestReporterKeyQuotedAddress(t *testing.T) {
	e := newEnv(t)
	c, err := e.openFrom(`"john q doe"@example.org`)
	if err != nil {
		t.Fatal(err)
	}
	key := armorPub(t, testKey(t, `"john q doe"@example.org`, 0))
	var note string
	err = e.db.Tx(e.ctx, func(tx *sql.Tx) error {
		var err error
		note, err = e.wf.TakeReporterKey(e.ctx, tx, c.ID, "john q doe@example.org", key, "<f1@example.org>")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(note, "taken") || e.get(c.ID).ReporterKey != key {
		t.Errorf("key not taken: %q", note)
	}
}
