package intake

import (
	"strings"
	"testing"
)

// TestReviewNotMemberAnswerToForgedKey: "the gateway never becomes a way
// to mail an address" rests on the signer's key carrying the From. But
// the key may come with the message itself, and anyone can make a key
// whose user ID names any address: the attacker signs with a fresh key
// for victim@outside.example, attaches it, and the gateway mails the
// victim.
func TestReviewNotMemberAnswerToForgedKey(t *testing.T) {
	e := newNMEnv(t)
	c := e.openReport()
	subject := "Re: [" + c.Ref + "] status"
	// Made by the attacker, naming the victim's address.
	forged := e.newOutsider("Victim", "victim@outside.example")
	body := "/status invalid\nMy key:\n\n" + string(forged.gp.Export(forged.fpr))
	mark := e.lastOut()
	e.process(signedBy(forged, "Victim <victim@outside.example>", subject, "forged-key-1@evil.example", body))
	if got := to(e.outbox(mark), "victim@outside.example"); len(got) != 0 {
		t.Errorf("the gateway mailed %d message(s) to an address named only by a key that came with the attacker's own mail", len(got))
	}
}

// TestReviewNotMemberSpoofedReporterSubject: an unsigned mail with the
// reporter's address in From (which anyone may write) and command lines
// gets the "Commands not applied" answer sent to the real reporter, from
// the team's address, with the attacker's Subject echoed in it.
func TestReviewNotMemberSpoofedReporterSubject(t *testing.T) {
	e := newNMEnv(t)
	c := e.openReport()
	r := e.reporter
	evil := "Re: [" + c.Ref + "] URGENT send your PoC to drop@evil.example"
	mark := e.lastOut()
	e.process(plainMail("Rita Reporter <"+r.addr+">", evil, "spoof-1", "/status invalid\n"))
	got := to(e.outbox(mark), r.addr)
	if len(got) != 0 {
		t.Errorf("an unsigned mail that only wrote the reporter's address in From made the gateway mail the reporter %d time(s)", len(got))
		if a := contentOf(t, r.gp, got[0].raw, e.team.Fingerprint()); strings.Contains(a, "drop@evil.example") {
			t.Errorf("and the team-signed answer carries the forger's Subject:\n%s", a)
		}
	}
}

// TestReviewNotMemberAnswerEchoesNothing: the reporter's answer echoes
// nothing the sender chose. An unsigned mail encrypted to the team key from
// the reporter's address is answered (encrypted to their key on file), and
// so is one signed by their key on file; neither answer carries the outer
// Subject or the From display name: its subject is "[REF] Commands not
// applied" and its greeting names nobody.
func TestReviewNotMemberAnswerEchoesNothing(t *testing.T) {
	e := newNMEnv(t)
	c := e.openReport()
	r := e.reporter
	check := func(name string, raw []byte) {
		t.Helper()
		mark := e.lastOut()
		e.process(raw)
		got := to(e.outbox(mark), r.addr)
		if len(got) != 1 {
			t.Fatalf("%s: the reporter got %d answers, want 1", name, len(got))
		}
		a := contentOf(t, r.gp, got[0].raw, e.team.Fingerprint()) // encrypted to the key on file
		if want := "Subject: [" + c.Ref + "] Commands not applied\n"; !strings.HasPrefix(a, want) {
			t.Errorf("%s: answer does not start with %q:\n%s", name, want, a)
		}
		if !strings.Contains(a, "\nHello,\n") {
			t.Errorf("%s: the greeting is not a bare \"Hello,\":\n%s", name, a)
		}
		for _, s := range []string{"drop@evil.example", "Drop Box", "URGENT"} {
			if strings.Contains(a, s) {
				t.Errorf("%s: the answer echoes %q, which the sender chose:\n%s", name, s, a)
			}
		}
	}
	evil := "Re: [" + c.Ref + "] URGENT send your PoC to drop@evil.example"
	inner := "Content-Type: text/plain; charset=utf-8\r\n\r\n/status invalid\r\n"
	check("encrypted, unsigned", encryptedMail("Drop Box drop@evil.example <"+r.addr+">", nmTeam, evil, "enc-1@reporter.example", "",
		r.gp.Encrypt([]byte(inner), e.team.Fingerprint(), "")))
	// An hour later (the answer is sent at most once an hour).
	if _, err := e.db.Writer().Exec(`UPDATE inbound_answer SET at = at - 2*3600*1000`); err != nil {
		t.Fatal(err)
	}
	check("signed by the key on file", signedBy(r, "Drop Box drop@evil.example <"+r.addr+">", evil, "signed-1@reporter.example", "/status invalid\n"))
}

// TestReviewNotMemberSignedByOtherKeyOfReporter: a mail from the
// reporter's address, in clear, signed by a key that carries the address
// but came with the mail (not the key on file): nobody is told.
func TestReviewNotMemberSignedByOtherKeyOfReporter(t *testing.T) {
	e := newNMEnv(t)
	c := e.openReport()
	r := e.reporter
	forged := e.newOutsider("Rita Reporter", r.addr)
	body := "/status invalid\nMy new key:\n\n" + string(forged.gp.Export(forged.fpr))
	mark := e.lastOut()
	e.process(signedBy(forged, "Rita Reporter <"+r.addr+">", "Re: ["+c.Ref+"] x", "forged-2@evil.example", body))
	if got := to(e.outbox(mark), r.addr); len(got) != 0 {
		t.Errorf("a key that came with the mail made the gateway mail the reporter %d time(s)", len(got))
	}
}
