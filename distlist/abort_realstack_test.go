package distlist

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/secgate/secgate/distlist/smtpsink"
	"github.com/secgate/secgate/internal/clock"
	"github.com/secgate/secgate/internal/mailstack"
	"github.com/secgate/secgate/internal/testwait"
)

// TestChangedMessageNotDeliveredRealStack is the attack on what a
// connection holds back (flushOnRead): a message stored in pieces changes
// after the guard read it, so WriteTo fails in the middle of the data, and
// send drops the connection without the final dot, as smtpConn.send does.
// Real Postfix must see the connection lost in DATA and deliver nothing of
// it; a message sent whole afterwards over the same kind of connection
// arrives, alone.
func TestChangedMessageNotDeliveredRealStack(t *testing.T) {
	stack := mailstack.Start(t, mailstack.Options{Users: []string{"distro1"}})
	addr := stack.Addr("distro1")
	ctx := context.Background()
	cfg := SMTPConfig{Addr: stack.SMTPAddr, TLS: TLSNone, EHLO: "gateway.example.test",
		DialTimeout: 10 * time.Second, CommandTimeout: time.Minute, SubmissionTimeout: time.Minute}
	e := newEnv(t, smtpsink.Options{}, nil) // its database holds the pieces
	raw := bigClearMessage(addr)
	msg := storedMessage(t, e, 1, raw)
	j := &job{id: 1, kind: "announcement", caseID: 7, recipient: addr, envFrom: "bounce@example.test"}

	sc, err := dialSMTP(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := sc.c.Mail(j.envFrom, &smtp.MailOptions{Size: int64(len(raw))}); err != nil {
		t.Fatal(err)
	}
	if err := sc.c.Rcpt(addr, nil); err != nil {
		t.Fatal(err)
	}
	if err := guard(msg, j, 0); err != nil {
		t.Fatalf("guard: %v", err)
	}
	// The last piece changes between the guard and DATA.
	if _, err := e.db.Writer().Exec(`UPDATE blob_chunk SET data = CAST(replace(CAST(data AS TEXT), '0123', 'XXXX') AS BLOB)
		WHERE owner = 'outbox' AND id = 1 AND seq = 2`); err != nil {
		t.Fatal(err)
	}
	w, err := sc.c.Data()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := msg.WriteTo(w); err == nil {
		t.Fatal("WriteTo wrote a message that changed after the guard read it")
	}
	sc.c.Close() // as send does: not w.Close, which would end the data
	testwait.Within(t, 30*time.Second, "Postfix to log the connection lost in DATA", func() bool {
		return strings.Contains(stack.Logs(200), "lost connection after DATA")
	})

	// A whole message, sent through send, arrives; the changed one never.
	control := []byte("From: security@example.test\r\nTo: " + addr + "\r\nSubject: control\r\n\r\nsent whole\r\n")
	sc2, err := dialSMTP(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer sc2.quit(time.Minute)
	cj := &job{kind: "announcement", caseID: 7, recipient: addr, envFrom: "bounce@example.test", raw: control}
	if _, err := sc2.send(ctx, cj, 0, &smtp.MailOptions{Size: cj.size()}, clock.Real{}); err != nil {
		t.Fatalf("send: %v", err)
	}
	stack.WaitMessages(t, "distro1", "INBOX", 1, 30*time.Second)
	got := stack.Messages(t, "distro1", "INBOX")
	if len(got) != 1 || !bytes.Contains(got[0], []byte("Subject: control")) {
		t.Fatalf("%d messages in the mailbox, want the control alone\n%s", len(got), stack.Logs(30))
	}
}
