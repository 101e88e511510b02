package cases

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/secgate/secgate/crypto"
	"github.com/secgate/secgate/distlist"
	"github.com/secgate/secgate/internal/gpgtest"
)

// refusalCheck runs m against case c and asserts that nothing in the case
// changed, that an audit event with want was written (to the case, or to
// the gateway log for gatewayLog), and that answerTo (if not "") got an
// answer naming want.
func refusalCheck(t *testing.T, e *env, c *Case, m CommandMail, want, answerTo string, gatewayLog bool) {
	t.Helper()
	before := e.get(c.ID)
	msgsBefore := e.count(`SELECT count(*) FROM case_messages WHERE case_id = ?`, c.ID)
	answersBefore := e.count(`SELECT count(*) FROM outbox WHERE kind = ?`, MailAnswer)
	reporterBefore := e.count(`SELECT count(*) FROM outbox WHERE kind = ?`, MailReporter)
	e.handle(m)
	after := e.get(c.ID)
	if !reflect.DeepEqual(before, after) {
		t.Errorf("case changed:\nbefore %+v\nafter  %+v", before, after)
	}
	if n := e.count(`SELECT count(*) FROM case_messages WHERE case_id = ?`, c.ID); n != msgsBefore {
		t.Errorf("%d messages stored", n-msgsBefore)
	}
	if n := e.count(`SELECT count(*) FROM outbox WHERE kind = ?`, MailReporter); n != reporterBefore {
		t.Errorf("the reporter was mailed")
	}
	logID := c.ID
	if gatewayLog {
		logID = GatewayLog
	}
	lastContains(t, "audit event", e.audit(logID), want)
	if !strings.HasPrefix(e.audit(logID)[len(e.audit(logID))-1], ActionRefused+":") {
		t.Errorf("last audit event %q is not a refusal", e.audit(logID)[len(e.audit(logID))-1])
	}
	if err := e.wf.VerifyAudit(e.ctx, logID); err != nil {
		t.Error(err)
	}
	answers := e.count(`SELECT count(*) FROM outbox WHERE kind = ?`, MailAnswer) - answersBefore
	if answerTo == "" {
		if answers != 0 {
			t.Errorf("%d answers sent, want none", answers)
		}
		return
	}
	if answers != 1 {
		t.Fatalf("%d answers sent, want 1", answers)
	}
	lastContains(t, "answer", e.mailsTo(answerTo, MailAnswer), want)
}

func TestRefuseUnsigned(t *testing.T) {
	e := newEnv(t)
	c := e.open(false)
	m := e.openRaw("Alice <alice@example.org>", "["+c.Ref+"]", []byte("Content-Type: text/plain; charset=utf-8\r\n\r\n/status confirmed\r\n"))
	if m.Opened == nil || m.Opened.Signature != nil {
		t.Fatalf("test mail: %+v %v", m.Opened, m.OpenErr)
	}
	refusalCheck(t, e, c, m, "not signed", "alice@example.org", false)
}

func TestRefuseNonMember(t *testing.T) {
	e := newEnv(t)
	c := e.open(false)
	mallory := testKey(t, "mallory@evil.example", 0)
	e.keys["mallory@evil.example"] = mallory // a verifier, but not in the directory
	m := e.signed("mallory@evil.example", mallory, "["+c.Ref+"]", "/status invalid", t0)
	if m.Opened.Signature == nil || m.Opened.Signature.Err != nil {
		t.Fatalf("test mail signature: %+v", m.Opened.Signature)
	}
	refusalCheck(t, e, c, m, "not the key of a current team member", "", false)
	// With a member's From address, the member hears of it.
	m = e.signed("alice@example.org", mallory, "["+c.Ref+"]", "/status invalid", t0)
	refusalCheck(t, e, c, m, "not the key of a current team member", "alice@example.org", false)
}

func TestRefuseUnknownSigner(t *testing.T) {
	e := newEnv(t)
	c := e.open(false)
	eve := testKey(t, "eve@evil.example", 0) // not even a verifier
	m := e.signed("bob@example.org", eve, "["+c.Ref+"]", "/status invalid", t0)
	refusalCheck(t, e, c, m, "does not verify", "bob@example.org", false)
}

func TestRefuseExpiredMemberKey(t *testing.T) {
	short := testKey(t, "erin@example.org", 31*24*time.Hour) // expires t0 + 1 day
	e := newEnv(t, memberDef{name: "Erin", addr: "erin@example.org", role: distlist.RoleLead, key: short})
	c := e.open(false)
	e.clock.Advance(48 * time.Hour)
	m := e.signed("erin@example.org", short, "["+c.Ref+"]", "/status confirmed", t0.Add(12*time.Hour))
	refusalCheck(t, e, c, m, "the key or signature has expired", "", false)
}

// swapDir is the directory with one member's key replaced.
type swapDir struct {
	*distlist.Directory
	addr string
	key  *crypto.Key
}

func (d swapDir) Team(ctx context.Context) ([]distlist.Member, error) {
	ms, err := d.Directory.Team(ctx)
	for i := range ms {
		if ms[i].Address == d.addr {
			ms[i].Key, ms[i].Fingerprint = d.key, d.key.Fingerprint()
		}
	}
	return ms, err
}

func TestRefuseRevokedMemberKey(t *testing.T) {
	g := gpgtest.New(t)
	fpr := g.GenKey("Dan <dan@example.org>", "ed25519")
	secret, err := crypto.ParsePrivateKey(g.ExportSecret(fpr), nil)
	if err != nil {
		t.Fatal(err)
	}
	rev, err := os.ReadFile(filepath.Join(g.Home, "openpgp-revocs.d", fpr+".rev"))
	if err != nil {
		t.Fatal(err)
	}
	g.Import([]byte(strings.Replace(string(rev), ":-----BEGIN", "-----BEGIN", 1)))
	revoked, err := crypto.ParsePublicKey(g.Export(fpr))
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, memberDef{name: "Dan", addr: "dan@example.org", role: distlist.RoleLead})
	e.clock.Set(time.Now().Add(time.Minute))
	if err := revoked.Check(e.clock.Now()); err == nil {
		t.Fatal("the test key is not revoked")
	}
	e.keys["dan@example.org"] = revoked
	e.wf.dir = swapDir{Directory: e.dir, addr: "dan@example.org", key: revoked}
	c := e.open(false)
	m := e.signed("dan@example.org", secret, "["+c.Ref+"]", "/status confirmed", e.clock.Now())
	refusalCheck(t, e, c, m, "the key is revoked", "", false)
}

func TestRefusePartlySigned(t *testing.T) {
	e := newEnv(t)
	c := e.open(false)
	alice := e.keys["alice@example.org"]
	s, err := alice.Sign(crypto.Content{Subject: "[" + c.Ref + "]", From: "alice@example.org", Entity: textEntity("/class A\n")}, t0)
	if err != nil {
		t.Fatal(err)
	}
	ent, err := s.Entity()
	if err != nil {
		t.Fatal(err)
	}
	mixed := "Content-Type: multipart/mixed; boundary=\"XX\"\r\n\r\n--XX\r\n" + string(ent) +
		"\r\n--XX\r\nContent-Type: text/plain\r\n\r\n/status invalid\r\n--XX--\r\n"
	m := e.openRaw("alice@example.org", "["+c.Ref+"]", []byte(mixed))
	if m.Opened == nil || m.Opened.Signature == nil || m.Opened.Signature.Whole {
		t.Fatalf("test mail: %+v %v", m.Opened, m.OpenErr)
	}
	refusalCheck(t, e, c, m, "covers only part", "alice@example.org", false)
}

func TestRefuseReplay(t *testing.T) {
	e := newEnv(t)
	c := e.open(false)
	alice := e.keys["alice@example.org"]
	first := e.signed("alice@example.org", alice, "["+c.Ref+"]", "/status confirmed", t0)
	e.handle(first)
	if e.get(c.ID).State != StateConfirmed {
		t.Fatal("first mail not applied")
	}
	// The same signed content with new outer headers, and /status moved
	// back by someone else in between, so a replay would change something.
	e.handle(e.signed("alice@example.org", alice, "["+c.Ref+"]", "/status incomplete", t0))
	before := e.get(c.ID)
	answers := e.count(`SELECT count(*) FROM outbox WHERE kind = ?`, MailAnswer)
	replay := first
	replay.MessageID = "<new-id@attacker.example>"
	replay.Subject = "Re: [" + c.Ref + "] urgent"
	replay.Received = e.clock.Now()
	e.handle(replay)
	if after := e.get(c.ID); !reflect.DeepEqual(before, after) {
		t.Errorf("replay changed the case: %s -> %s", before.State, after.State)
	}
	// The signer hears of the first copy once (a copy delivered by
	// someone else may have taken the signature of the one they sent),
	// and of further copies never.
	if n := e.count(`SELECT count(*) FROM outbox WHERE kind = ?`, MailAnswer); n != answers+1 {
		t.Errorf("replay answered with %d mails, want 1", n-answers)
	}
	lastContains(t, "answer", e.mailsTo("alice@example.org", MailAnswer), "arrived again")
	lastContains(t, "answer", e.mailsTo("alice@example.org", MailAnswer), "was applied (1 change)")
	lastContains(t, "audit event", e.audit(c.ID), "seen before")
	if !strings.HasPrefix(e.audit(c.ID)[len(e.audit(c.ID))-1], ActionReplay+":") {
		t.Error("replay not logged as such")
	}
	again := replay
	again.MessageID = "<newer-id@attacker.example>"
	e.handle(again)
	if n := e.count(`SELECT n FROM case_refusal WHERE code = 'replay'`); n != 2 {
		t.Errorf("%d replays counted for the metrics, want 2", n)
	}
	if n := e.count(`SELECT count(*) FROM outbox WHERE kind = ?`, MailAnswer); n != answers+1 {
		t.Errorf("a second replay was answered too (%d mails)", n-answers)
	}
	// The same stored message handled again (the gateway stopped between
	// applying it and marking it handled) is itself, not a replay.
	events := len(e.audit(c.ID))
	stored := e.signed("alice@example.org", alice, "["+c.Ref+"]", "/class B3", t0)
	stored.InboundID = 42
	e.handle(stored)
	e.handle(stored)
	if got := e.audit(c.ID); len(got) != events+1 || strings.HasPrefix(got[len(got)-1], ActionReplay+":") {
		t.Errorf("the same stored message handled twice left %d events: %q", len(got)-events, got[events:])
	}
}

func TestRefuseMissingCase(t *testing.T) {
	e := newEnv(t)
	c := e.open(false)
	alice := e.keys["alice@example.org"]
	m := e.signed("alice@example.org", alice, "hello", "/case SEC-2026-0099\n/status confirmed", t0)
	refusalCheck(t, e, c, m, "SEC-2026-0099 does not exist", "alice@example.org", true)
	// No case named at all.
	m = e.signed("alice@example.org", alice, "hello", "/status confirmed", t0)
	refusalCheck(t, e, c, m, "does not name the case", "alice@example.org", true)
}

func TestRefuseInvalidCVSS(t *testing.T) {
	e := newEnv(t)
	c := e.open(false)
	bob := e.keys["bob@example.org"]
	m := e.signed("bob@example.org", bob, "["+c.Ref+"]", "/status confirmed\n/cvss CVSS:3.1/AV:X/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H\nfine otherwise", t0)
	refusalCheck(t, e, c, m, "invalid CVSS vector", "bob@example.org", false)
}

func TestRefuseImpossibleTransition(t *testing.T) {
	e := newEnv(t)
	c := e.open(false)
	alice := e.keys["alice@example.org"]
	m := e.signed("alice@example.org", alice, "["+c.Ref+"]", "/class A\n/status fix-released", t0)
	refusalCheck(t, e, c, m, "new -> fix-released", "alice@example.org", false)
}

func TestRefuseUnknownCommand(t *testing.T) {
	e := newEnv(t)
	c := e.open(false)
	alice := e.keys["alice@example.org"]
	m := e.signed("alice@example.org", alice, "["+c.Ref+"]", "/class A\n/frobnicate", t0)
	refusalCheck(t, e, c, m, "unknown command /frobnicate", "alice@example.org", false)
}

func TestRefuseStaleSignature(t *testing.T) {
	e := newEnv(t)
	c := e.open(false)
	alice := e.keys["alice@example.org"]
	e.clock.Advance(100 * time.Hour)
	m := e.signed("alice@example.org", alice, "["+c.Ref+"]", "/class A", t0)
	refusalCheck(t, e, c, m, "commands must be fresh", "alice@example.org", false)
	m = e.signed("alice@example.org", alice, "["+c.Ref+"]", "/class A", e.clock.Now().Add(time.Hour))
	refusalCheck(t, e, c, m, "in the future", "alice@example.org", false)
}

func TestRefuseFromMismatch(t *testing.T) {
	e := newEnv(t)
	c := e.open(false)
	alice := e.keys["alice@example.org"]
	m := e.signed("Bob <bob@example.org>", alice, "["+c.Ref+"]", "/class A", t0)
	refusalCheck(t, e, c, m, "is not registered to the member", "alice@example.org", false)
}

func TestRefuseRole(t *testing.T) {
	e := newEnv(t)
	c := e.open(false) // lead alice
	bob := e.keys["bob@example.org"]
	m := e.signed("bob@example.org", bob, "["+c.Ref+"]", "/class A\n/close invalid spam", t0)
	refusalCheck(t, e, c, m, "is for the case's fix lead", "bob@example.org", false)
	m = e.signed("bob@example.org", bob, "["+c.Ref+"]", "/status invalid", t0)
	refusalCheck(t, e, c, m, "/status invalid is for the case's fix lead", "bob@example.org", false)
}
