package intake

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-message"

	"github.com/secgate/secgate/internal/gpgtest"
)

// TestRealStackBigReportAttachment: a report of several MiB, signed and
// encrypted by the reporter's gpg, with a binary attachment, goes through
// Postfix and Dovecot, is streamed from the IMAP literal into the pieces
// of its row (sealed at rest, never whole in memory), decrypted into
// pieces and its attachment decoded into pieces of its own, opens a case
// that stores the attachment byte for byte, and each member's copy,
// signed and sealed for them from those pieces into the pieces of its row
// and sent from them, decrypts with the member's gpg to the attachment
// byte for byte. No spooled piece is left, nor those a crash left.
func TestRealStackBigReportAttachment(t *testing.T) {
	if testing.Short() {
		t.Skip("real mail stack")
	}
	g := startGateway(t)
	ctx, cancel := context.WithCancel(g.ctx)
	done := g.runPoller(ctx, nil)
	defer func() { cancel(); <-done }()

	att := make([]byte, 3<<20+123)
	rand.Read(att)
	raw := g.bigReport(t, att, "big-1@outside.example")
	g.strandParts(t)
	g.send(raw)
	g.stack.WaitMessages(t, "security", "Processed", 1, 120*time.Second)

	// Stored from the stream: in pieces its row names, no others left.
	var col []byte
	var state, reason string
	var pieces int
	if err := g.db.Reader().QueryRow(`SELECT i.state, i.reason, r.raw, (SELECT count(*) FROM blob_chunk WHERE owner = 'inbound-spool' AND id = s.spool)
		FROM inbound i JOIN inbound_raw r ON r.inbound_id = i.id JOIN inbound_spool s ON s.inbound_id = i.id
		WHERE i.message_id = 'big-1@outside.example'`).Scan(&state, &reason, &col, &pieces); err != nil {
		t.Fatal(err)
	}
	if state != StateProcessed || len(col) != 0 || pieces < 4 {
		t.Fatalf("inbound %s (%s): column of %d bytes, %d pieces; want processed, in pieces", state, reason, len(col), pieces)
	}
	if n := strayPieces(t, g.db); n != 0 {
		t.Errorf("%d spooled pieces left that no row names", n)
	}

	g.checkCaseAttachment(t, "big-1@outside.example", att)
	g.checkTeamCopies(t, att)
}

// checkTeamCopies waits for each member's team copy and checks that it
// decrypts with the member's gpg to the attachment att, byte for byte.
func (g *gateway) checkTeamCopies(t *testing.T, att []byte) {
	t.Helper()
	for user, gp := range g.members {
		msgs := g.stack.WaitMessages(t, user, "INBOX", 1, 120*time.Second)
		content := openMail(t, gp, msgs[0], g.team.Fingerprint())
		got := findAttachment(t, content, "core.bin")
		if !bytes.Equal(got, att) {
			t.Errorf("%s: attachment of %d bytes in the team copy, want the %d sent, byte for byte", user, len(got), len(att))
		}
	}
}

// bigReport is a report of several MiB, signed and encrypted by the
// reporter's gpg in PGP/MIME, carrying att as a base64 attachment.
func (g *gateway) bigReport(t *testing.T, att []byte, msgID string) []byte {
	t.Helper()
	return g.bigReportBy(t, att, msgID, g.repFpr)
}

// bigReportBy is bigReport signed by signer, or not signed when signer is
// empty.
func (g *gateway) bigReportBy(t *testing.T, att []byte, msgID, signer string) []byte {
	t.Helper()
	armored := g.reporter.Encrypt([]byte(bigEntity(att)), g.team.Fingerprint(), signer)
	raw := gpgtest.CRLF([]byte(fmt.Sprintf("From: Reporter <%s>\nTo: %s\nSubject: ...\nDate: %s\nMessage-ID: <%s>\nMIME-Version: 1.0\n"+
		"Content-Type: multipart/encrypted; protocol=\"application/pgp-encrypted\"; boundary=\"enc\"\n\n"+
		"--enc\nContent-Type: application/pgp-encrypted\n\nVersion: 1\n\n--enc\nContent-Type: application/octet-stream; name=\"encrypted.asc\"\n\n%s\n--enc--\n",
		g.repAddr, g.stack.Addr("security"), time.Now().Format(time.RFC1123Z), msgID, armored)))
	if len(raw) < 4<<20 {
		t.Fatalf("report of %d bytes, want several MiB", len(raw))
	}
	return raw
}

// bigEntity is the content of a big report: a line of text and att as a
// base64 attachment, core.bin.
func bigEntity(att []byte) string {
	var enc strings.Builder
	b64 := base64.StdEncoding.EncodeToString(att)
	for len(b64) > 76 {
		enc.WriteString(b64[:76] + "\r\n")
		b64 = b64[76:]
	}
	enc.WriteString(b64 + "\r\n")
	inner := "Content-Type: multipart/mixed; boundary=\"in\"\r\n\r\n--in\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" +
		"The attached core dump shows the overflow.\r\n" +
		"--in\r\nContent-Type: application/octet-stream; name=\"core.bin\"\r\nContent-Disposition: attachment; filename=\"core.bin\"\r\n" +
		"Content-Transfer-Encoding: base64\r\n\r\n" + enc.String() + "--in--\r\n"
	return inner
}

// findAttachment returns the decoded body of the part named name in the
// MIME entity.
func findAttachment(t *testing.T, entity []byte, name string) []byte {
	t.Helper()
	e, err := message.Read(bytes.NewReader(entity))
	if err != nil {
		t.Fatalf("team copy: %v", err)
	}
	var found []byte
	err = e.Walk(func(_ []int, p *message.Entity, err error) error {
		if err != nil {
			return err
		}
		_, params, _ := p.Header.ContentDisposition()
		if params["filename"] == name {
			found, err = io.ReadAll(p.Body)
		}
		return err
	})
	if err != nil || found == nil {
		t.Fatalf("team copy: no part %s (%v)", name, err)
	}
	return found
}
