package intake

import (
	"context"
	"crypto/rand"
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestRealStackBigClearReport: a report of several MiB sent in clear (not
// the PGP/MIME form the opener decrypts as it reads the pieces) goes
// through Postfix and Dovecot into pieces, is inspected from them, read
// whole to be opened, opens a case noted as in clear, and each member's
// copy decrypts with the member's gpg to the attachment byte for byte.
func TestRealStackBigClearReport(t *testing.T) {
	if testing.Short() {
		t.Skip("real mail stack")
	}
	g := startGateway(t)
	ctx, cancel := context.WithCancel(g.ctx)
	done := g.runPoller(ctx, nil)
	defer func() { cancel(); <-done }()

	att := make([]byte, 3<<20+77)
	rand.Read(att)
	raw := []byte(fmt.Sprintf("From: Reporter <%s>\r\nTo: %s\r\nSubject: Overflow\r\nDate: %s\r\nMessage-ID: <big-clear@outside.example>\r\nMIME-Version: 1.0\r\n",
		g.repAddr, g.stack.Addr("security"), time.Now().Format(time.RFC1123Z)) + bigEntity(att))
	g.send(raw)
	g.stack.WaitMessages(t, "security", "Processed", 1, 120*time.Second)
	var state, class, reason string
	var pieces int
	if err := g.db.Reader().QueryRow(`SELECT i.state, i.class, i.reason, (SELECT count(*) FROM blob_chunk WHERE owner = 'inbound-spool' AND id = s.spool)
		FROM inbound i JOIN inbound_spool s ON s.inbound_id = i.id WHERE i.message_id = 'big-clear@outside.example'`).Scan(&state, &class, &reason, &pieces); err != nil {
		t.Fatal(err)
	}
	if state != StateProcessed || class != ClassReport || !strings.Contains(reason, "in clear") || pieces < 4 {
		t.Fatalf("inbound %s, %s (%s), %d pieces; want a report in clear, processed, in pieces", state, class, reason, pieces)
	}
	g.checkCaseAttachment(t, "big-clear@outside.example", att)
	g.checkTeamCopies(t, att)
}
