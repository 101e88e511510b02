package intake

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net/mail"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/secgate/secgate/cases"
	"github.com/secgate/secgate/internal/gpgtest"
)

// partPieces counts the pieces of spooled attachments and plaintexts left
// in the database.
func (g *gateway) partPieces(t *testing.T) int {
	t.Helper()
	var n int
	if err := g.db.Reader().QueryRow(`SELECT count(*) FROM blob_chunk WHERE owner = ?`, partOwner).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// strandParts leaves pieces as a crash in the middle of processing would,
// for the first inbound message of a fresh database.
func (g *gateway) strandParts(t *testing.T) {
	t.Helper()
	for _, n := range []int64{0, 1, 7} {
		if _, err := g.db.Writer().Exec(`INSERT INTO blob_chunk (owner, id, seq, data) VALUES (?, ?, 0, x'00')`, partOwner, 1<<16+n); err != nil {
			t.Fatal(err)
		}
	}
}

// checkCaseAttachment checks that the case opened by the message msgID
// holds att, named core.bin, stored from its spool in pieces of its own,
// and that no spooled piece is left (the ones a crash left are gone too).
func (g *gateway) checkCaseAttachment(t *testing.T, msgID string, att []byte) {
	t.Helper()
	var caseID int64
	if err := g.db.Reader().QueryRow(`SELECT case_id FROM inbound WHERE message_id = ?`, msgID).Scan(&caseID); err != nil {
		t.Fatal(err)
	}
	msgs, err := g.workflow.Messages(g.ctx, caseID)
	if err != nil || len(msgs) == 0 {
		t.Fatalf("case %d: %d messages, %v", caseID, len(msgs), err)
	}
	if as := msgs[0].Attachments; len(as) != 1 || as[0].Filename != "core.bin" || !bytes.Equal(as[0].Data, att) {
		t.Errorf("case %d: %d attachments, want core.bin of %d bytes byte for byte", caseID, len(as), len(att))
	}
	var inPieces int
	if err := g.db.Reader().QueryRow(`SELECT count(*) FROM case_attachments WHERE length(data_enc) = 0 AND size = ?`, len(att)).Scan(&inPieces); err != nil {
		t.Fatal(err)
	}
	if inPieces != 1 {
		t.Errorf("%d attachments of %d bytes stored in pieces, want 1", inPieces, len(att))
	}
	if n := g.partPieces(t); n != 0 {
		t.Errorf("%d pieces of spooled attachments or plaintexts left", n)
	}
	// Everything it went through on the way was sealed: neither the
	// attachment nor its base64 in the plaintext is in the database
	// file or its WAL.
	for _, p := range []string{g.dbPath, g.dbPath + "-wal"} {
		b, err := os.ReadFile(p)
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		if bytes.Contains(b, att[1<<20:1<<20+32]) || bytes.Contains(b, []byte(base64.StdEncoding.EncodeToString(att[:48]))) {
			t.Errorf("%s holds the attachment in clear", filepath.Base(p))
		}
	}
}

// TestRealStackBigMemberCommand: a member's command mail of several MiB
// (signed and encrypted by their gpg, a core dump attached) is decrypted
// into pieces as a big report is; the workflow, which reads a command
// mail's entity in memory, gets it read back from them and applies the
// command, bound to the case by the header fields inside the signature.
func TestRealStackBigMemberCommand(t *testing.T) {
	if testing.Short() {
		t.Skip("real mail stack")
	}
	g := startGateway(t)
	ctx, cancel := context.WithCancel(g.ctx)
	done := g.runPoller(ctx, nil)
	defer func() { cancel(); <-done }()
	g.send(g.inlineReport(1, "INLINE: a report to confirm"))
	copies := g.stack.WaitMessages(t, "alice", "INBOX", 1, 60*time.Second)
	m, err := mail.ReadMessage(bytes.NewReader(copies[0]))
	if err != nil {
		t.Fatal(err)
	}
	ref := g.cases()[0].Ref
	att := make([]byte, 3<<20)
	rand.Read(att)
	entity := strings.Replace(bigEntity(att), "Content-Type: multipart/mixed; boundary=\"in\"\r\n",
		"Content-Type: multipart/mixed; boundary=\"in\"; protected-headers=\"v1\"\r\nTo: "+g.stack.Addr("security")+"\r\nSubject: Re: ["+ref+"] commands\r\n", 1)
	entity = strings.Replace(entity, "The attached core dump shows the overflow.", "/status confirmed", 1)
	addr := g.stack.Addr("alice")
	armored := g.members["alice"].Encrypt([]byte(entity), g.team.Fingerprint(), addr)
	raw := gpgtest.CRLF([]byte(fmt.Sprintf("From: alice <%s>\nTo: %s\nSubject: ...\nDate: %s\nMessage-ID: <cmd-big@example.test>\nIn-Reply-To: %s\nMIME-Version: 1.0\n"+
		"Content-Type: multipart/encrypted; protocol=\"application/pgp-encrypted\"; boundary=\"enc\"\n\n"+
		"--enc\nContent-Type: application/pgp-encrypted\n\nVersion: 1\n\n--enc\nContent-Type: application/octet-stream; name=\"encrypted.asc\"\n\n%s\n--enc--\n",
		addr, g.stack.Addr("security"), time.Now().Format(time.RFC1123Z), m.Header.Get("Message-ID"), armored)))
	g.submit("alice", raw)
	g.stack.WaitMessages(t, "security", "Processed", 2, 120*time.Second)
	row := g.inbound("cmd-big@example.test")
	if row.class != ClassCommand || !strings.Contains(row.reason, "signed by") {
		t.Fatalf("command mail ended %s, %s (%s)", row.state, row.class, row.reason)
	}
	if c := g.cases()[0]; c.State != cases.StateConfirmed {
		t.Errorf("case %s is %s after the big signed command", c.Ref, c.State)
	}
	if n := g.partPieces(t); n != 0 {
		t.Errorf("%d spooled pieces left", n)
	}
}

// TestRealStackBigUnsignedReport: a report of several MiB encrypted by
// the reporter's gpg without a signature (a multipart plaintext whose
// signed parts Open looks for) is decrypted into pieces and read from
// them as a signed one is: the case holds the attachment, each member's
// copy decrypts to it byte for byte, no piece is left.
func TestRealStackBigUnsignedReport(t *testing.T) {
	if testing.Short() {
		t.Skip("real mail stack")
	}
	g := startGateway(t)
	ctx, cancel := context.WithCancel(g.ctx)
	done := g.runPoller(ctx, nil)
	defer func() { cancel(); <-done }()

	att := make([]byte, 3<<20+5)
	rand.Read(att)
	g.send(g.bigReportBy(t, att, "big-unsigned@outside.example", ""))
	g.stack.WaitMessages(t, "security", "Processed", 1, 120*time.Second)
	row := g.inbound("big-unsigned@outside.example")
	if row.class != ClassReport || !strings.Contains(row.reason, "encrypted") {
		t.Fatalf("inbound %s, %s (%s); want an encrypted report", row.state, row.class, row.reason)
	}
	g.checkCaseAttachment(t, "big-unsigned@outside.example", att)
	g.checkTeamCopies(t, att)
}
