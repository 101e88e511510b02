package intake

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-message"

	"github.com/secgate/secgate/internal/gpgtest"
	"github.com/secgate/secgate/internal/testwait"
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
	send(g.repAddr, gpgtest.CRLF([]byte(hdr("Reporter <"+g.repAddr+">", "Overflow", "canary-clear")+
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
	send("many@outside.example", gpgtest.CRLF([]byte(b.String())))

	// All five handled, and everything queued delivered or given up.
	waitFor := func(what, q string, want int) {
		testwait.Within(t, 60*time.Second, fmt.Sprintf("%s to reach %d", what, want), func() bool {
			var n int
			if err := g.db.Reader().QueryRow(q).Scan(&n); err != nil {
				t.Fatal(err)
			}
			return n == want
		})
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

// forEachOutgoing calls fn with the final bytes of every queued message.
func forEachOutgoing(t *testing.T, e *hostileEnv, fn func(id int64, rcpt, kind string, raw []byte)) {
	rows, err := e.db.Reader().Query(`SELECT o.id, o.recipient, o.kind, m.raw FROM outbox o JOIN outbox_message m ON m.outbox_id = o.id ORDER BY o.id`)
	must(t, err)
	defer rows.Close()
	n := 0
	for rows.Next() {
		var id int64
		var rcpt, kind string
		var raw []byte
		must(t, rows.Scan(&id, &rcpt, &kind, &raw))
		fn(id, rcpt, kind, raw)
		n++
	}
	must(t, rows.Err())
	if n == 0 {
		t.Fatal("nothing in the outbox")
	}
}

// clearText returns raw with every header field decoded (RFC 2047) and
// every part's body decoded (transfer encoding, charset), as far as they
// parse: what anyone reading the message without a key sees.
func clearText(raw []byte) []byte {
	out := bytes.Clone(raw)
	ent, _ := message.Read(bytes.NewReader(raw)) // an unknown charset still yields the entity
	if ent == nil {
		return out
	}
	var walk func(e *message.Entity, depth int)
	walk = func(e *message.Entity, depth int) {
		f := e.Header.Fields()
		for f.Next() {
			if v, err := f.Text(); err == nil {
				out = append(out, v...)
			}
			out = append(out, f.Value()...)
		}
		if _, params, err := e.Header.ContentDisposition(); err == nil {
			out = append(out, params["filename"]...)
		}
		if mr := e.MultipartReader(); mr != nil && depth < 16 {
			for {
				p, err := mr.NextPart()
				if err != nil {
					break
				}
				walk(p, depth+1)
			}
			return
		}
		b, _ := io.ReadAll(io.LimitReader(e.Body, 8<<20))
		out = append(out, b...)
	}
	walk(ent, 0)
	return out
}

// checkCanaries fails when a report's canary appears in clear in any
// outgoing message (none of the corpus's cases is public) or in the
// database file or its WAL.
func checkCanaries(t *testing.T, e *hostileEnv, entries []hostileEntry) {
	var canaries []string
	for _, en := range entries {
		if en.canary != "-" {
			canaries = append(canaries, en.canary)
		}
	}
	if len(canaries) < 20 {
		t.Fatalf("only %d reports carry a canary", len(canaries))
	}
	// The test is able to see a canary: the clear corpus files carry theirs.
	seen := 0
	for _, en := range entries {
		raw, _ := os.ReadFile(filepath.Join(hostileDir, en.name+".eml"))
		if en.canary != "-" && bytes.Contains(clearText(raw), []byte(en.canary)) {
			seen++
		}
	}
	if seen == 0 {
		t.Fatal("no canary visible in any clear corpus message: the scan cannot work")
	}
	rows := 0
	forEachOutgoing(t, e, func(id int64, rcpt, kind string, raw []byte) {
		rows++
		who := "team member"
		if !e.team[strings.ToLower(rcpt)] {
			who = "NOT a team member"
		}
		txt := clearText(raw)
		for _, c := range canaries {
			if bytes.Contains(txt, []byte(c)) {
				t.Errorf("outbox %d (%s to %s, %s) carries %s in clear", id, kind, rcpt, who, c)
			}
		}
	})
	t.Logf("%d outgoing messages scanned for %d canaries", rows, len(canaries))
	// Content at rest is encrypted: no canary in the database or its WAL.
	for _, p := range []string{e.dbPath, e.dbPath + "-wal"} {
		b, err := os.ReadFile(p)
		if err != nil {
			if p == e.dbPath {
				t.Fatal(err)
			}
			continue
		}
		for _, c := range canaries {
			if bytes.Contains(b, []byte(c)) {
				t.Errorf("%s carries %s in clear", filepath.Base(p), c)
			}
		}
	}
}

// wrap breaks s into lines of n characters.
func wrap(s string, n int) string {
	var out strings.Builder
	for len(s) > n {
		out.WriteString(s[:n] + "\n")
		s = s[n:]
	}
	out.WriteString(s)
	return out.String()
}
