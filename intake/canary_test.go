package intake

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestCanaryRealStack runs canary-carrying reports and attacks on them
// through the real Postfix and Dovecot (internal/mailstack): a clear report,
// an encrypted one, its ciphertext re-sent by an attacker as is and
// re-armored, and a report held for a limit. When the outbox has delivered
// everything, no message in the catch-all mailbox of the outside world
// (reporters, attackers: everyone who is not a team member) may carry a
// canary in clear, read over IMAP.
func TestCanaryRealStack(t *testing.T) {
	if testing.Short() {
		t.Skip("real mail stack")
	}
	g := startGateway(t)
	ctx, cancel := context.WithCancel(g.ctx)
	done := g.runPoller(ctx, nil)
	defer func() { cancel(); <-done }()
	team := g.stack.Addr("security")
	var canaries []string
	canary := func() string {
		c := newCanary()
		canaries = append(canaries, c)
		return c
	}
	hdr := func(from, subject, id string) string {
		return fmt.Sprintf("From: %s\nTo: %s\nSubject: %s\nDate: %s\nMessage-ID: <%s@outside.example>\nMIME-Version: 1.0\n",
			from, team, subject, time.Now().Format(time.RFC1123Z), id)
	}
	send := func(from string, raw []byte) {
		g.stack.Send(t, from, []string{team}, raw)
	}

	// A report in clear.
	send(g.repAddr, crlf([]byte(hdr("Reporter <"+g.repAddr+">", "Overflow", "canary-clear")+
		"Content-Type: text/plain\n\n"+reportBody(canary())+"\n")))
	// An encrypted report, its ciphertext re-sent by an attacker, and the
	// same ciphertext re-armored.
	enc := g.pgpMIMEReport(100, reportBody(canary()))
	send(g.repAddr, enc)
	g.stack.WaitMessages(t, "security", "Processed", 2, 60*time.Second)
	attack := bytes.Replace(enc, []byte("From: Reporter <"+g.repAddr+">"), []byte("From: Attacker <attacker@evil.example>"), 1)
	attack = bytes.Replace(attack, []byte("<pgpmime-100@"), []byte("<attack-1@"), 1)
	send("attacker@evil.example", attack)
	rearmored := bytes.Replace(attack, []byte("-----BEGIN PGP MESSAGE-----\r\n"), []byte("-----BEGIN PGP MESSAGE-----\r\nComment: again\r\n"), 1)
	rearmored = bytes.Replace(rearmored, []byte("<attack-1@"), []byte("<attack-2@"), 1)
	if bytes.Equal(rearmored, attack) {
		t.Fatal("could not re-armor the ciphertext")
	}
	send("attacker@evil.example", rearmored)
	// A clear report held for a limit (too many attachments): the polite
	// answer must not quote it.
	var b strings.Builder
	b.WriteString(hdr("Many <many@outside.example>", "files", "canary-many") + "Content-Type: multipart/mixed; boundary=\"a\"\n\n--a\nContent-Type: text/plain\n\n" + reportBody(canary()) + "\n")
	for i := range 20 {
		fmt.Fprintf(&b, "--a\nContent-Type: text/plain\nContent-Disposition: attachment; filename=\"f%d.txt\"\n\nfile %d\n", i, i)
	}
	b.WriteString("--a--\n")
	send("many@outside.example", crlf([]byte(b.String())))

	// All five handled, and everything queued delivered or given up.
	waitFor := func(what, q string, want int) {
		deadline := time.Now().Add(60 * time.Second)
		for {
			var n int
			if err := g.db.Reader().QueryRow(q).Scan(&n); err != nil {
				t.Fatal(err)
			}
			if n == want {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: %d, want %d", what, n, want)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	waitFor("messages handled", `SELECT count(*) FROM inbound WHERE state IN ('processed', 'quarantined')`, 5)
	waitFor("messages undelivered", `SELECT count(*) FROM outbox WHERE state NOT IN ('sent', 'failed', 'bounced')`, 0)
	var toOutside int
	if err := g.db.Reader().QueryRow(`SELECT count(*) FROM outbox WHERE state = 'sent' AND recipient NOT LIKE '%@example.test'`).Scan(&toOutside); err != nil {
		t.Fatal(err)
	}
	if toOutside < 3 {
		t.Fatalf("only %d messages sent to the outside: the scan would prove little", toOutside)
	}
	msgs := g.stack.WaitMessages(t, "sink", "INBOX", toOutside, 60*time.Second)
	for i, raw := range msgs {
		txt := clearText(raw)
		for _, c := range canaries {
			if bytes.Contains(txt, []byte(c)) {
				t.Errorf("outside message %d carries %s in clear:\n%s", i, c, raw)
			}
		}
	}
	t.Logf("%d messages to the outside read over IMAP, %d canaries", len(msgs), len(canaries))
}
