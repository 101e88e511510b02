package cases

import (
	"database/sql"
	"strings"
	"testing"
	"time"

	"github.com/secgate/secgate/cases/casestest"
	"github.com/secgate/secgate/crypto"
	"github.com/secgate/secgate/distlist"
	"github.com/secgate/secgate/internal/gpgtest"
)

// TestNewCommandMail runs a raw mail from casestest through crypto.Open and
// NewCommandMail, threading by In-Reply-To with a hidden outer subject.
func TestNewCommandMail(t *testing.T) {
	e := newEnv(t)
	c := e.open(false)
	var gwID string
	alice := e.keys["alice@example.org"]
	e.handle(e.signed("alice@example.org", alice, "["+c.Ref+"]", "/note first", t0))
	if err := e.db.Reader().QueryRow(`SELECT message_id FROM outbox WHERE case_id = ? LIMIT 1`, c.ID).Scan(&gwID); err != nil {
		t.Fatal(err)
	}
	for _, signOnly := range []bool{false, true} {
		raw, id, err := casestest.CommandMail(alice, e.team, casestest.Options{From: "Alice <alice@example.org>", To: teamAddr,
			Subject: "Re: [" + c.Ref + "] your answer", Body: "/class C2\n> /class A\n-- \nAlice", At: t0, InReplyTo: "<" + gwID + ">", HideSubject: true, SignOnly: signOnly})
		if err != nil {
			t.Fatal(err)
		}
		o, oerr := crypto.Open(raw, crypto.OpenOptions{Decrypt: e.team, Verifiers: []*crypto.Key{alice.Public()}, Now: t0})
		m, err := NewCommandMail(raw, o, oerr, t0)
		if err != nil {
			t.Fatal(err)
		}
		if m.MessageID != id || m.InReplyTo != "<"+gwID+">" || len(m.References) != 1 || m.Subject != "..." || m.From != "Alice <alice@example.org>" {
			t.Fatalf("CommandMail = %+v", m)
		}
		e.handle(m)
		if got := e.get(c.ID); got.Class != "C2" {
			t.Fatalf("signOnly=%v: class = %q; answers %q", signOnly, got.Class, e.mailsTo("alice@example.org", MailAnswer))
		}
		e.handle(e.signed("alice@example.org", alice, "["+c.Ref+"]", "/class D", t0))
	}
}

// TestRealClientLayout accepts a command signed by gpg in the PGP/MIME
// layout mail clients produce: a signed part with its own MIME header
// fields and CRLF line ends, a detached signature (binary and text mode).
func TestRealClientLayout(t *testing.T) {
	g := gpgtest.New(t)
	fpr := g.GenKey("Frank <frank@example.org>", "ed25519")
	pub, err := crypto.ParsePublicKey(g.Export(fpr))
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, memberDef{name: "Frank", addr: "frank@example.org", role: distlist.RoleLead, key: nil})
	e.clock.Set(time.Now().Add(time.Minute))
	e.keys["frank@example.org"] = pub
	e.wf.dir = swapDir{Directory: e.dir, addr: "frank@example.org", key: pub}
	c := e.open(false)
	// casestest.GPGCommandMail: the same, signed only and signed+encrypted.
	team, err := e.team.Public().ArmorPublic()
	if err != nil {
		t.Fatal(err)
	}
	g.Import([]byte(team))
	for _, teamFpr := range []string{"", e.team.Fingerprint()} {
		raw, _ := casestest.GPGCommandMail(g, fpr, teamFpr, casestest.Options{From: "Frank <frank@example.org>", To: teamAddr,
			Subject: "Re: [" + c.Ref + "] report", Body: "/case " + c.Ref + "\n/cvss CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H\n\nreproduced"})
		o, oerr := crypto.Open(raw, crypto.OpenOptions{Decrypt: e.team, Verifiers: []*crypto.Key{pub}, Now: e.clock.Now()})
		m, err := NewCommandMail(raw, o, oerr, e.clock.Now())
		if err != nil {
			t.Fatal(err)
		}
		if teamFpr != "" && (o == nil || !o.Encrypted) {
			t.Fatalf("not encrypted: %+v %v", o, oerr)
		}
		before := e.count(`SELECT count(*) FROM case_audit WHERE case_id = ? AND action = 'cvss'`, c.ID)
		e.handle(m)
		if n := e.count(`SELECT count(*) FROM case_audit WHERE case_id = ? AND action = 'cvss'`, c.ID); n != before+1 {
			t.Fatalf("encrypted=%v: /cvss not applied; audit %q", teamFpr != "", e.audit(c.ID))
		}
	}
	for i, mode := range []gpgtest.SignMode{gpgtest.Detached, gpgtest.DetachedText} {
		state := []string{"confirmed", "incomplete"}[i]
		part := "Content-Type: text/plain; charset=us-ascii\r\nContent-Disposition: inline\r\nContent-Transfer-Encoding: 7bit\r\n\r\n" +
			"/case " + c.Ref + "\r\n/status " + state + "\r\n\r\nReproduced.\r\n-- \r\nFrank\r\n"
		sig := g.Sign([]byte(part), fpr, mode)
		body := "Content-Type: multipart/signed; micalg=pgp-sha256;\r\n protocol=\"application/pgp-signature\"; boundary=\"b1\"\r\n\r\n" +
			"This is an OpenPGP/MIME signed message (RFC 4880 and 3156)\r\n--b1\r\n" + part + "\r\n--b1\r\n" +
			"Content-Type: application/pgp-signature; name=\"signature.asc\"\r\nContent-Description: OpenPGP digital signature\r\n\r\n" +
			string(sig) + "\r\n--b1--\r\n"
		m := e.openRaw("Frank <frank@example.org>", "Re: ["+c.Ref+"] report", []byte(body))
		if m.OpenErr != nil || m.Opened.Signature == nil || m.Opened.Signature.Err != nil || !m.Opened.Signature.Whole {
			t.Fatalf("mode %d: opened %+v %v", mode, m.Opened, m.OpenErr)
		}
		e.handle(m)
		if got := e.get(c.ID); string(got.State) != state {
			t.Fatalf("mode %d: state %s; answer %q", mode, got.State, e.mailsTo("frank@example.org", MailAnswer))
		}
	}
}

func TestAlert(t *testing.T) {
	e := newEnv(t)
	c := e.open(false) // lead alice
	if err := e.db.Tx(e.ctx, func(tx *sql.Tx) error {
		if err := e.wf.Alert(e.ctx, tx, c.ID, "Embargo list member skipped", "vendor key expired"); err != nil {
			return err
		}
		return e.wf.Alert(e.ctx, tx, GatewayLog, "Team key expires soon", "in 20 days")
	}); err != nil {
		t.Fatal(err)
	}
	a := e.mailsTo("alice@example.org", MailAlert)
	if len(a) != 2 || !strings.Contains(a[0], "vendor key expired") {
		t.Fatalf("alice's alerts = %q", a)
	}
	for _, addr := range []string{"bob@example.org", "carol@example.org"} {
		if got := e.mailsTo(addr, MailAlert); len(got) != 1 || !strings.Contains(got[0], "in 20 days") {
			t.Errorf("%s alerts = %q", addr, got)
		}
	}
	lastContains(t, "audit", e.audit(c.ID), "alert: Embargo list member skipped")
}

func TestReplyToUnreachableReporter(t *testing.T) {
	e := newEnv(t)
	short := testKey(t, "rita@reporter.example", 31*24*time.Hour) // expires t0 + 1 day
	var c *Case
	if err := e.db.Tx(e.ctx, func(tx *sql.Tx) error {
		var err error
		c, err = e.wf.OpenCase(e.ctx, tx, Report{From: "rita@reporter.example", Key: armorPub(t, short), Text: "x", MessageID: "<r@x>"})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(48 * time.Hour)
	bob := e.keys["bob@example.org"]
	e.handle(e.signed("bob@example.org", bob, "["+c.Ref+"]", "/reply Can you send the PoC?", e.clock.Now()))
	if n := e.count(`SELECT count(*) FROM outbox WHERE kind = ?`, MailReporter); n != 0 {
		t.Fatalf("%d mails to the reporter with an expired key", n)
	}
	lastContains(t, "answer", e.mailsTo("bob@example.org", MailAnswer), "the reporter was NOT told")
	lastContains(t, "alert to the lead", e.mailsTo("alice@example.org", MailAlert), "NOT told")
}

// TestProtectedHeaders checks signed header fields against the outer ones:
// a mail Frank signed for someone else and that was forwarded to the
// gateway is refused; the same layout addressed to the team is accepted.
func TestProtectedHeaders(t *testing.T) {
	g := gpgtest.New(t)
	fpr := g.GenKey("Frank <frank@example.org>", "ed25519")
	pub, err := crypto.ParsePublicKey(g.Export(fpr))
	if err != nil {
		t.Fatal(err)
	}
	secret, err := crypto.ParsePrivateKey(g.ExportSecret(fpr), nil)
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, memberDef{name: "Frank", addr: "frank@example.org", role: distlist.RoleLead})
	e.clock.Set(time.Now().Add(time.Minute))
	e.keys["frank@example.org"] = secret // verifies and decrypts the answers
	e.wf.dir = swapDir{Directory: e.dir, addr: "frank@example.org", key: pub}
	c := e.open(false)
	mail := func(to, date string) CommandMail {
		part := "Content-Type: text/plain; charset=UTF-8; protected-headers=\"v1\"\r\n" +
			"From: Frank <frank@example.org>\r\nTo: " + to + "\r\nSubject: Re: [" + c.Ref + "] report\r\nDate: " + date + "\r\n" +
			"Content-Transfer-Encoding: 7bit\r\n\r\n/class B2\r\n"
		sig := g.Sign([]byte(part), fpr, gpgtest.Detached)
		body := "Content-Type: multipart/signed; micalg=pgp-sha256; protocol=\"application/pgp-signature\"; boundary=\"b2\"\r\n\r\n" +
			"--b2\r\n" + part + "\r\n--b2\r\nContent-Type: application/pgp-signature\r\n\r\n" + string(sig) + "\r\n--b2--\r\n"
		return e.openRaw("Frank <frank@example.org>", "...", []byte(body))
	}
	now := e.clock.Now().Format(time.RFC1123Z)
	refusalCheck(t, e, c, mail("Bob <bob@other.example>", now), "signed for someone else", "frank@example.org", false)
	refusalCheck(t, e, c, mail("Security <security@example.org>", e.clock.Now().Add(-200*time.Hour).Format(time.RFC1123Z)), "is not fresh", "frank@example.org", false)
	e.handle(mail("Security <security@example.org>", now))
	if got := e.get(c.ID); got.Class != "B2" {
		t.Fatalf("class %q; answers %q", got.Class, e.mailsTo("frank@example.org", MailAnswer))
	}

	// A signed From other than the outer one.
	alice := e.keys["alice@example.org"]
	s, err := alice.Sign(crypto.Content{Subject: "[" + c.Ref + "]", From: "carol@example.org", Entity: textEntity("/class C1\n")}, e.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := s.SealFor(e.team.Public(), e.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	refusalCheck(t, e, c, e.openRaw("alice@example.org", "x", sealed), "is not the outer From", "alice@example.org", false)

	// A weak hash.
	m := e.signed("alice@example.org", alice, "["+c.Ref+"]", "/class C1", e.clock.Now())
	m.Opened.Signature.Hash = "SHA1"
	refusalCheck(t, e, c, m, "too weak", "alice@example.org", false)
}

func TestRequireEncrypted(t *testing.T) {
	e := newEnv(t)
	e.wf.cfg.RequireEncrypted = true
	c := e.open(false)
	alice := e.keys["alice@example.org"]
	raw, _, err := casestest.CommandMail(alice, e.team, casestest.Options{From: "alice@example.org", To: teamAddr,
		Subject: "[" + c.Ref + "]", Body: "/class A", At: t0, SignOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	o, oerr := crypto.Open(raw, crypto.OpenOptions{Decrypt: e.team, Verifiers: []*crypto.Key{alice.Public()}, Now: t0})
	m, err := NewCommandMail(raw, o, oerr, t0)
	if err != nil {
		t.Fatal(err)
	}
	refusalCheck(t, e, c, m, "signed and then encrypted", "alice@example.org", false)
	e.handle(e.signed("alice@example.org", alice, "["+c.Ref+"]", "/class A", t0))
	if e.get(c.ID).Class != "A" {
		t.Fatal("signed and encrypted mail refused")
	}
}

// TestDisclosureTellsReporter: /disclose tells the reporter the date,
// encrypted to their key; without a key they are told a date was set and
// asked for a key, never the date in clear. /publish-now tells them why.
func TestDisclosureTellsReporter(t *testing.T) {
	for _, withKey := range []bool{true, false} {
		e := newEnv(t)
		c := e.open(withKey)
		alice := e.keys["alice@example.org"]
		e.handle(e.signed("alice@example.org", alice, "["+c.Ref+"]", "/cve CVE-2026-12345\n/disclose 2026-12-15 16:00 UTC", e.clock.Now()))
		rep := e.mailsTo("rita@reporter.example", MailReporter)
		encrypted := e.count(`SELECT count(*) FROM outbox WHERE kind = ? AND encrypt = 1`, MailReporter)
		switch {
		case len(rep) != 1:
			t.Fatalf("key %v: %d mails to the reporter, want 1", withKey, len(rep))
		case withKey && (encrypted != 1 || !strings.Contains(rep[0], "2026-12-15 16:00 UTC") || !strings.Contains(rep[0], "CVE-2026-12345")):
			t.Errorf("key known: encrypted=%d\n%s", encrypted, rep[0])
		case !withKey && (encrypted != 0 || strings.Contains(rep[0], "2026-12-15") || strings.Contains(rep[0], "CVE-2026") ||
			!strings.Contains(rep[0], "reply with your OpenPGP public key")):
			t.Errorf("no key: encrypted=%d\n%s", encrypted, rep[0])
		}
		e.clock.Advance(time.Hour)
		e.handle(e.signed("alice@example.org", alice, "["+c.Ref+"]", "/publish-now exploit seen in the wild", e.clock.Now()))
		rep = e.mailsTo("rita@reporter.example", MailReporter)
		if len(rep) != 2 || !strings.Contains(rep[1], "made public now, earlier than planned:\nexploit seen in the wild") {
			t.Errorf("key %v: after /publish-now the reporter got %q", withKey, rep)
		}
	}
}

// TestSideExitWithdrawsPlan: ending a case as invalid, wontfix or opinion
// asks the scheduler to withdraw its plan (which tells the distributors
// already notified); going back to incomplete does not.
func TestSideExitWithdrawsPlan(t *testing.T) {
	for _, tt := range []struct {
		cmd, want string
	}{
		{"/status incomplete", ""},
		{"/close wontfix out of scope", `withdraw SEC-2026-0001 wontfix "out of scope"`},
		{"/close invalid", `withdraw SEC-2026-0001 invalid ""`},
		{"/status opinion", `withdraw SEC-2026-0001 opinion ""`},
	} {
		e := newEnv(t)
		c := e.open(true)
		alice := e.keys["alice@example.org"]
		e.handle(e.signed("alice@example.org", alice, "["+c.Ref+"]", tt.cmd, e.clock.Now()))
		got := strings.Join(e.sched.calls, "; ")
		if got != tt.want {
			t.Errorf("%s: scheduler calls %q, want %q", tt.cmd, got, tt.want)
		}
	}
}

// TestAlertLeadUnreachable: an alert for a case whose lead's key has
// expired goes to the rest of the team instead of to no one.
func TestAlertLeadUnreachable(t *testing.T) {
	dave := testKey(t, "dave@example.org", 31*24*time.Hour) // expires t0 + 1 day
	e := newEnv(t, memberDef{name: "Dave", addr: "dave@example.org", role: distlist.RoleLead, rota: 4, key: dave})
	c := e.open(true)
	err := e.db.Tx(e.ctx, func(tx *sql.Tx) error {
		return e.wf.UpdateCase(e.ctx, tx, c.ID, ActorGateway, "lead", "dave leads", "", func(c *Case) error {
			c.Lead = dave.Fingerprint()
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(48 * time.Hour)
	if err := e.db.Tx(e.ctx, func(tx *sql.Tx) error {
		return e.wf.Alert(e.ctx, tx, c.ID, "delivery problem", "something went wrong\n")
	}); err != nil {
		t.Fatal(err)
	}
	for addr, want := range map[string]int{"dave@example.org": 0, "alice@example.org": 1, "bob@example.org": 1, "carol@example.org": 1} {
		if n := e.count(`SELECT count(*) FROM outbox WHERE kind = ? AND recipient = ?`, MailAlert, addr); n != want {
			t.Errorf("%s got %d alerts, want %d", addr, n, want)
		}
	}
	lastContains(t, "audit", e.audit(c.ID), "not sent to dave@example.org")
}
