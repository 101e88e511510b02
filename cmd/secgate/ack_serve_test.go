package main

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/mail"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/secgate/secgate/internal/gpgtest"
)

// ackNotice is a notice as its distributor got it.
type ackNotice struct {
	project   *hostileProject
	ref       string
	messageID string // with <>
	code      string
}

var ackLine = regexp.MustCompile(`(?m)^\s*/ack (ACK-[A-Z2-7]{12})\s*$`)

// noticesOf opens every embargo notice in user's INBOX with their gpg.
func (e *hostileEnv) noticesOf(user string, n int) []ackNotice {
	e.t.Helper()
	var out []ackNotice
	for _, raw := range e.stack.WaitMessages(e.t, user, "INBOX", n, 2*time.Minute) {
		m, err := mail.ReadMessage(bytes.NewReader(toCRLF(raw)))
		if err != nil {
			e.t.Fatal(err)
		}
		if !strings.HasPrefix(m.Header.Get("Content-Type"), "multipart/encrypted") {
			continue
		}
		r := gpgOpenMail(e.t, e.dists[user], raw)
		text := strings.NewReplacer("=\r\n", "", "=\n", "", "=3D", "=", "\r\n", "\n").Replace(string(r.Stdout))
		if !strings.Contains(text, "EMBARGOED") {
			continue
		}
		an := ackNotice{messageID: m.Header.Get("Message-ID")}
		for _, p := range []*hostileProject{e.kn, e.kata} {
			if strings.Contains(m.Header.Get("From"), e.addr(p.mailbox)) {
				an.project = p
			}
		}
		if sm := innerSubject.FindStringSubmatch(text); sm != nil {
			an.ref = strings.Trim(strings.Fields(sm[1])[0], "[]")
		}
		if sm := ackLine.FindStringSubmatch(text); sm != nil {
			an.code = sm[1]
		}
		if an.project == nil || an.code == "" {
			e.t.Fatalf("a notice to %s without its project or code:\n%s", user, text)
		}
		out = append(out, an)
	}
	return out
}

// signedBody is a PGP/MIME signed body by g's key fpr (with the public key
// attached inside the signed part when attach): the Content-Type header
// line and the body, which any outer header can carry.
func signedBody(g *gpgtest.GPG, fpr, text string, attach bool) string {
	inner := "Content-Type: text/plain; charset=utf-8\r\n\r\n" + strings.ReplaceAll(text, "\n", "\r\n") + "\r\n"
	if attach {
		inner = "Content-Type: multipart/mixed; boundary=\"in\"\r\n\r\n--in\r\n" + inner +
			"\r\n--in\r\nContent-Type: application/pgp-keys\r\nContent-Disposition: attachment; filename=\"key.asc\"\r\n\r\n" +
			strings.ReplaceAll(string(g.Export(fpr)), "\n", "\r\n") + "\r\n--in--\r\n"
	}
	sig := g.Sign([]byte(inner), fpr, gpgtest.Detached)
	return "Content-Type: multipart/signed; micalg=pgp-sha256; protocol=\"application/pgp-signature\"; boundary=\"sig\"\r\n\r\n" +
		"--sig\r\n" + inner + "\r\n--sig\r\nContent-Type: application/pgp-signature\r\n\r\n" + string(sig) + "\r\n--sig--\r\n"
}

// replyTo is a mail from user to p's address in the thread of notice, with
// the given body (a Content-Type line and what follows); it returns the
// mail and its Message-ID.
func (e *hostileEnv) replyTo(user string, p *hostileProject, notice ackNotice, body string) ([]byte, string) {
	id := e.msgID("ack-" + user)
	return toCRLF([]byte(fmt.Sprintf("From: Distributor %s <%s>\nTo: %s\nSubject: Re: [%s] EMBARGOED\nDate: %s\nMessage-ID: <%s>\n"+
		"In-Reply-To: %s\nReferences: %s\nMIME-Version: 1.0\n", user, e.addr(user), e.addr(p.mailbox), notice.ref,
		time.Now().Format(time.RFC1123Z), id, notice.messageID, notice.messageID) + body)), id
}

// TestServeAcknowledgements runs acknowledgements of embargo notices
// through secgate serve on the real stack, with gpg as the distributor's
// client, in two projects that number their cases alike (knative's
// SEC-YYYY-0001 and 0002, kata's SEC-YYYY-0001), dana on both embargo
// lists:
//   - dana's reply to knative's first notice, PGP/MIME signed by her key
//     on file, quoting the notice's /ack line, counts; case show prints
//     the table with her acknowledgement and its Message-ID;
//   - none of these counts, each is kept with its case and the team copy
//     says why: a reply in her name signed by mallory's key; one unsigned;
//     her signed acknowledgement replayed into the thread of the second
//     case; a reply she signed in the second case's thread that holds the
//     first case's code; the very same mail again; her acknowledgement
//     replayed into kata's thread of the same reference;
//   - her reply to kata's notice, signed and encrypted to kata's key by
//     gpg, counts there; the same ciphertext again is held as a replay;
//   - the metrics count the acknowledgements and the silent, per project.
func TestServeAcknowledgements(t *testing.T) {
	if testing.Short() {
		t.Skip("real mail stack")
	}
	e := startHostile(t, "SEC", "SEC", []hostileMember{{"carol", []string{"knative", "kata"}}}, "dana")
	kn, kata := e.kn, e.kata
	ref1 := e.report(kn)
	// A second report of another text (the same one again is a replay).
	rid := e.msgID("report-2")
	e.stack.Send(t, e.addr("rita"), []string{e.addr(kn.mailbox)},
		e.encryptedMail(e.rita, "rita", e.ritaFpr, kn.team.Fingerprint(), e.addr(kn.mailbox), "...", "A second report to Knative.", rid))
	e.waitInbound(kn, rid)
	var ref2 string
	e.query(kn, `SELECT c.ref FROM inbound i JOIN cases c ON c.id = i.case_id WHERE i.message_id = ?`, rid).Scan(&ref2)
	if ref2 == "" || ref2 == ref1 {
		t.Fatalf("the second report opened case %q", ref2)
	}
	if got := e.report(kata); got != ref1 {
		t.Fatalf("kata's case is %s, want %s as knative's first", got, ref1)
	}
	t0 := time.Now().Add(24 * 24 * time.Hour).UTC().Truncate(time.Minute)
	for _, c := range []struct {
		p   *hostileProject
		ref string
	}{{kn, ref1}, {kn, ref2}, {kata, ref1}} {
		id := e.command("carol", c.p, "["+c.ref+"] plan", fmt.Sprintf("/case %s\n/status confirmed\n/impact\nRemote attackers can crash %s.\n\n"+
			"/affected <= 1.4.0\n/fixed 1.4.1\n/disclose %s\n", c.ref, c.p.display, t0.Format("2006-01-02 15:04 MST")))
		e.waitInbound(c.p, id)
	}
	notices := e.noticesOf("dana", 3)
	find := func(p *hostileProject, ref string) ackNotice {
		for _, n := range notices {
			if n.project == p && n.ref == ref {
				return n
			}
		}
		t.Fatalf("dana has no notice of %s %s: %+v", p.name, ref, notices)
		return ackNotice{}
	}
	n1, n2, nk := find(kn, ref1), find(kn, ref2), find(kata, ref1)
	if n1.code == n2.code || n1.code == nk.code {
		t.Fatalf("two notices share a code: %s %s %s", n1.code, n2.code, nk.code)
	}
	dana, danaFpr := e.dists["dana"], e.distFprs["dana"]
	acked := func(p *hostileProject) int {
		return e.count(p, `SELECT count(*) FROM ack_reply`)
	}

	// 1. dana's signed reply quoting the notice counts.
	good := signedBody(dana, danaFpr, "> Please acknowledge this notice:\n>\n>     /ack "+n1.code+"\n\nReceived; we will be ready.\n", false)
	raw, id := e.replyTo("dana", kn, n1, good)
	e.stack.Send(t, e.addr("dana"), []string{e.addr(kn.mailbox)}, raw)
	class, _, reason := e.waitInbound(kn, id)
	if class != "distributor-ack" || !strings.Contains(reason, "acknowledgement counted") || strings.Contains(reason, "read as commands") {
		t.Fatalf("dana's acknowledgement: %s, %s", class, reason)
	}
	if acked(kn) != 1 {
		t.Fatalf("knative counts %d acknowledgements, want 1", acked(kn))
	}
	code, show, stderr := runCLI(t, nil, "case", "show", "-config", e.config, "-project", "knative", ref1)
	if code != 0 {
		t.Fatalf("case show: exit %d: %s", code, stderr)
	}
	row := regexp.MustCompile(`(?m)^  ` + regexp.QuoteMeta(e.addr("dana")) + `\s+embargo\s+embargo notice\s+\S+ \S+ UTC\s+\S+ \S+ UTC\s+(\S+ \S+ UTC|SILENT)`).FindStringSubmatch(show)
	if !strings.Contains(show, "acknowledgements:") || row == nil || row[1] == "SILENT" {
		t.Errorf("case show %s does not show dana's acknowledgement:\n%s", ref1, show)
	}
	t.Logf("case show %s:\n%s", ref1, show)
	_, js, _ := runCLI(t, nil, "case", "show", "-json", "-config", e.config, "-project", "knative", ref1)
	var out struct{ Acks []ackJSON }
	decodeJSON(t, js, &out)
	if len(out.Acks) != 1 || out.Acks[0].Recipient != e.addr("dana") || out.Acks[0].Acknowledged == nil || out.Acks[0].Silent ||
		out.Acks[0].Delivered == nil || out.Acks[0].AckMessageID != id {
		t.Errorf("case show -json: acks %+v", out.Acks)
	}
	if _, show2, _ := runCLI(t, nil, "case", "show", "-config", e.config, "-project", "knative", ref2); !strings.Contains(show2, "SILENT") {
		t.Errorf("case show %s does not show dana silent:\n%s", ref2, show2)
	}

	// 2. None of these counts.
	mallory := signedBody(e.mallory, e.malFpr, "/ack "+n2.code+"\nReady.", true)
	moved := signedBody(dana, danaFpr, "> /ack "+n1.code+"\nReady, for the other one.", false)
	for _, tc := range []struct {
		name string
		p    *hostileProject
		n    ackNotice
		body string
		why  string
	}{
		{"signed by another key", kn, n2, mallory, "signed by another key " + e.malFpr},
		{"unsigned", kn, n2, "Content-Type: text/plain; charset=utf-8\n\n/ack " + n2.code + "\nReady.\n", "not signed by their key on file"},
		{"replayed into another case's thread", kn, n2, good, "holds the acknowledgement code of a notice of another case, " + ref1},
		{"signed in another case's thread", kn, n2, moved, "another case, " + ref1},
		{"the same mail again", kn, n1, good, "counted before"},
		{"replayed into another project", kata, nk, good, "no notice's of this gateway"},
	} {
		raw, id := e.replyTo("dana", tc.p, tc.n, tc.body)
		e.stack.Send(t, e.addr("dana"), []string{e.addr(tc.p.mailbox)}, raw)
		class, _, reason := e.waitInbound(tc.p, id)
		if class != "distributor-ack" || !strings.Contains(reason, "NOT counted") || !strings.Contains(reason, tc.why) {
			t.Errorf("%s: %s, %s; want NOT counted: %q", tc.name, class, reason, tc.why)
		}
		e.awaitMail("carol", "Acknowledgement: NOT counted", tc.why) // the team copy says why
	}
	if acked(kn) != 1 || acked(kata) != 0 {
		t.Errorf("acknowledgements: knative %d, kata %d; want dana's first alone", acked(kn), acked(kata))
	}

	// 3. Her reply to kata's notice, signed and encrypted to kata's key
	// (what a client answering an encrypted notice sends), counts there.
	id = e.msgID("ack-dana-encrypted")
	raw = append([]byte("In-Reply-To: "+nk.messageID+"\r\n"), e.encryptedMail(dana, "dana", danaFpr, kata.team.Fingerprint(), e.addr(kata.mailbox),
		"Re: ["+ref1+"] EMBARGOED", "> /ack "+nk.code+"\n\nReady for this one too.", id)...)
	e.stack.Send(t, e.addr("dana"), []string{e.addr(kata.mailbox)}, raw)
	if class, _, reason := e.waitInbound(kata, id); class != "distributor-ack" || !strings.Contains(reason, "acknowledgement counted") {
		t.Errorf("dana's encrypted acknowledgement to kata: %s, %s", class, reason)
	}
	// Its ciphertext again, under a new Message-ID: intake holds it as a
	// replay before anything reads it as an acknowledgement.
	again := e.msgID("ack-dana-encrypted-again")
	raw = bytes.Replace(raw, []byte("Message-ID: <"+id+">"), []byte("Message-ID: <"+again+">"), 1)
	e.stack.Send(t, e.addr("dana"), []string{e.addr(kata.mailbox)}, raw)
	if class, state, reason := e.waitInbound(kata, again); class != "replay" || state != "quarantined" {
		t.Errorf("dana's encrypted acknowledgement sent again: %s %s, %s; want held as a replay", class, state, reason)
	}
	if acked(kn) != 1 || acked(kata) != 1 {
		t.Errorf("acknowledgements: knative %d, kata %d; want one each", acked(kn), acked(kata))
	}
	if n := e.count(kn, `SELECT count(*) FROM case_audit WHERE action = 'ack-not-counted'`); n != 5 {
		t.Errorf("knative audited %d acknowledgements not counted, want 5", n)
	}
	resp, err := http.Get("http://" + e.metrics + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	scrape, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		`secgate_acknowledgements_total{notice="embargo-notice",project="knative"} 1`,
		`secgate_acknowledgements_total{notice="embargo-notice",project="kata"} 1`,
		`secgate_ack_silent_recipients{notice="embargo-notice",project="knative"} 1`, // dana, on the second case
		`secgate_ack_silent_recipients{notice="embargo-notice",project="kata"} 0`,
	} {
		if !strings.Contains(string(scrape), want) {
			t.Errorf("the metrics lack %s", want)
		}
	}
	e.stop()
}

// TestServeAckReminder runs the reminder and the escalation through secgate
// serve on the real stack, under a policy of seconds (ack_reminder 3s,
// ack_escalate 6s): dana, silent, gets one reminder in the thread of her
// copy of the notice, signed by the team key and encrypted to her alone,
// with the notice's code; the lead is told she is silent; her signed reply
// to the reminder (whose thread names the notice through References)
// counts, and nothing more is sent.
func TestServeAckReminder(t *testing.T) {
	if testing.Short() {
		t.Skip("real mail stack")
	}
	e := startHostileWith(t, "poll_interval = \"1s\"\n\n[schedule.policies.knative]\nack_reminder = \"3s\"\nack_escalate = \"6s\"\n",
		"SEC", "KATA", []hostileMember{{"carol", []string{"knative", "kata"}}}, "dana")
	kn := e.kn
	ref := e.report(kn)
	t0 := time.Now().Add(24 * 24 * time.Hour).UTC().Truncate(time.Minute)
	e.waitInbound(kn, e.command("carol", kn, "["+ref+"] plan", fmt.Sprintf("/case %s\n/status confirmed\n/impact\nRemote attackers can crash Knative.\n\n"+
		"/affected <= 1.4.0\n/fixed 1.4.1\n/disclose %s\n", ref, t0.Format("2006-01-02 15:04 MST"))))
	msgs := e.stack.WaitMessages(t, "dana", "INBOX", 2, 2*time.Minute)
	notice := e.noticesOf("dana", 1)[0]
	var reminder []byte
	for _, raw := range msgs {
		if !bytes.Contains(raw, []byte(notice.messageID)) || bytes.Contains(raw, []byte("Message-ID: "+notice.messageID)) {
			continue
		}
		reminder = raw
	}
	if reminder == nil {
		t.Fatalf("no mail to dana in the thread of her notice %s", notice.messageID)
	}
	m, err := mail.ReadMessage(bytes.NewReader(toCRLF(reminder)))
	if err != nil {
		t.Fatal(err)
	}
	if got := m.Header.Get("In-Reply-To"); got != notice.messageID {
		t.Errorf("the reminder's In-Reply-To is %q, want her notice's %s", got, notice.messageID)
	}
	if signer := gpgSigner(t, e.dists["dana"], reminder); signer != kn.team.Fingerprint() {
		t.Errorf("the reminder is signed by %q, want the team key", signer)
	}
	r := gpgOpenMail(t, e.dists["dana"], reminder)
	text := strings.NewReplacer("=\r\n", "", "=\n", "", "=3D", "=", "\r\n", "\n").Replace(string(r.Stdout))
	if !strings.Contains(text, "Please acknowledge") || !strings.Contains(text, "/ack "+notice.code) {
		t.Errorf("the reminder lacks the request or the code:\n%s", text)
	}
	e.awaitMail("carol", "Not acknowledged: the embargo notice", e.addr("dana")) // the lead's escalation

	// Her reply to the reminder, quoting it.
	id := e.msgID("ack-dana")
	body := signedBody(e.dists["dana"], e.distFprs["dana"], "> /ack "+notice.code+"\n\nSorry for the delay: ready.", false)
	raw := toCRLF([]byte(fmt.Sprintf("From: Distributor dana <%s>\nTo: %s\nSubject: Re: [%s] Please acknowledge\nDate: %s\nMessage-ID: <%s>\n"+
		"In-Reply-To: %s\nReferences: %s %s\nMIME-Version: 1.0\n", e.addr("dana"), e.addr(kn.mailbox), ref, time.Now().Format(time.RFC1123Z), id,
		m.Header.Get("Message-ID"), notice.messageID, m.Header.Get("Message-ID")) + body))
	e.stack.Send(t, e.addr("dana"), []string{e.addr(kn.mailbox)}, raw)
	if class, _, reason := e.waitInbound(kn, id); class != "distributor-ack" || !strings.Contains(reason, "acknowledgement counted") {
		t.Errorf("dana's reply to the reminder: %s, %s", class, reason)
	}
	time.Sleep(3 * time.Second) // three more checks of the loop
	if n := e.count(kn, `SELECT count(*) FROM outbox WHERE kind = 'ack-reminder'`); n != 1 {
		t.Errorf("%d reminders, want 1", n)
	}
	if n := e.count(kn, `SELECT count(*) FROM ack_nudge WHERE stage = 'escalation'`); n != 1 {
		t.Errorf("%d escalations, want 1", n)
	}
	e.stop()
}

// awaitMail waits for a mail to member holding every one of want (its
// blanks folded: a long line may wrap).
func (e *hostileEnv) awaitMail(member string, want ...string) {
	e.t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		for _, g := range e.inbox(member) {
			text := strings.Join(strings.Fields(g.subject+"\n"+g.text), " ")
			all := true
			for _, w := range want {
				all = all && strings.Contains(text, w)
			}
			if all {
				return
			}
		}
		if time.Now().After(deadline) {
			e.t.Errorf("no mail to %s holds %q", member, want)
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
}
