package intake

// Inline PGP with encrypted attachments on the real stack (issue #17):
// Enigmail, Thunderbird (before 78) and K-9 encrypt the text of a message
// inline and each attachment on its own (NAME.pgp, binary, or NAME.asc,
// armored), in a multipart/mixed that is itself in clear. gpg plays the
// reporter's client.

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-message"

	"github.com/secgate/secgate/internal/gpgtest"
)

// inlinePart is one part of an inline-PGP multipart/mixed.
type inlinePart struct {
	ctype, name string
	data        []byte // written base64 when binary, 7bit otherwise
	binary      bool
}

// enigmailMail builds a multipart/mixed as Enigmail's inline mode writes
// it: the text part first, then the attachments, each with its name in
// the Content-Type and the Content-Disposition.
func enigmailMail(from, to, id string, parts ...inlinePart) []byte {
	const b = "------------enig2B6F3A9C4D0E"
	var s strings.Builder
	fmt.Fprintf(&s, "From: %s\r\nTo: %s\r\nSubject: report\r\nDate: %s\r\nMessage-ID: <%s>\r\nMIME-Version: 1.0\r\n"+
		"Content-Type: multipart/mixed; boundary=\"%s\"\r\n\r\nThis is a multi-part message in MIME format.\r\n",
		from, to, time.Now().Format(time.RFC1123Z), id, b)
	for _, p := range parts {
		s.WriteString("--" + b + "\r\n")
		switch {
		case p.name == "":
			s.WriteString("Content-Type: " + p.ctype + "; charset=UTF-8\r\nContent-Transfer-Encoding: 7bit\r\n\r\n")
		case p.binary:
			fmt.Fprintf(&s, "Content-Type: %s;\r\n name=\"%s\"\r\nContent-Transfer-Encoding: base64\r\nContent-Disposition: attachment;\r\n filename=\"%s\"\r\n\r\n", p.ctype, p.name, p.name)
		default:
			fmt.Fprintf(&s, "Content-Type: %s;\r\n name=\"%s\"\r\nContent-Transfer-Encoding: 7bit\r\nContent-Disposition: attachment;\r\n filename=\"%s\"\r\n\r\n", p.ctype, p.name, p.name)
		}
		if p.binary {
			b64 := base64.StdEncoding.EncodeToString(p.data)
			for len(b64) > 72 {
				s.WriteString(b64[:72] + "\r\n")
				b64 = b64[72:]
			}
			s.WriteString(b64 + "\r\n")
		} else {
			s.Write(gpgtest.CRLF(p.data))
			s.WriteString("\r\n")
		}
	}
	s.WriteString("--" + b + "--\r\n")
	return []byte(s.String())
}

// gpgEncryptFile is `gpg --encrypt` of a file: binary, to the key to.
func gpgEncryptFile(t testing.TB, gp *gpgtest.GPG, data []byte, to string) []byte {
	t.Helper()
	r := gp.Run(data, "--recipient", to, "--encrypt")
	if r.Err != nil || len(r.Stdout) == 0 {
		t.Fatalf("gpg --encrypt: %v\n%s", r.Err, r.Stderr)
	}
	return r.Stdout
}

// copyContent decrypts a mail a member received and returns its text
// parts and its attachments by name.
func copyContent(t testing.TB, gp *gpgtest.GPG, raw []byte, teamFpr string) (string, map[string][]byte) {
	t.Helper()
	e, err := message.Read(bytes.NewReader(openMail(t, gp, raw, teamFpr)))
	if err != nil {
		t.Fatal(err)
	}
	var text strings.Builder
	atts := map[string][]byte{}
	e.Walk(func(_ []int, p *message.Entity, err error) error {
		if err != nil || p.MultipartReader() != nil {
			return nil
		}
		b, _ := io.ReadAll(p.Body)
		_, params, _ := p.Header.ContentDisposition()
		if name := params["filename"]; name != "" {
			atts[name] = b
		} else if mt, _, _ := p.Header.ContentType(); mt == "text/plain" {
			text.Write(b)
		}
		return nil
	})
	return strings.ReplaceAll(text.String(), "\r\n", "\n"), atts
}

// teamCopyWith waits for the copy member received whose text holds
// marker and returns its text and attachments.
func (g *gateway) teamCopyWith(member, marker string) (string, map[string][]byte) {
	g.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	seen := map[int]bool{}
	for {
		for i, raw := range g.stack.Messages(g.t, member, "INBOX") {
			if seen[i] || !bytes.Contains(raw, []byte("multipart/encrypted")) {
				continue
			}
			seen[i] = true
			text, atts := copyContent(g.t, g.members[member], raw, g.team.Fingerprint())
			if strings.Contains(text, marker) {
				return text, atts
			}
		}
		if time.Now().After(deadline) {
			g.t.Fatalf("%s got no copy holding %q within 60 s", member, marker)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestRealStackInlineAttachments: a report encrypted inline with its
// attachments encrypted one by one opens an encrypted case: the team's
// copies and the case hold the decrypted text and files under their own
// names, the reporter's acknowledgement does not say the report came in
// clear. An attachment that does not decrypt with the team key stays as it
// came and the team is told; a clear part next to encrypted ones makes the
// report one in clear, shown outside the decrypted text. An attacker who
// re-sends the reporter's encrypted attachment in a mail of their own gets
// no case: it is the same ciphertext.
func TestRealStackInlineAttachments(t *testing.T) {
	if testing.Short() {
		t.Skip("real mail stack")
	}
	g := startGateway(t)
	ctx, cancel := context.WithCancel(g.ctx)
	done := g.runPoller(ctx, nil)
	defer func() { cancel(); <-done }()
	team := g.stack.Addr("security")
	from := "Reporter <" + g.repAddr + ">"
	teamFpr := g.team.Fingerprint()

	text := "INLINE-ATT-A: use-after-free in the chunk decoder, see the attached proof of concept.\n"
	poc := []byte("#!/usr/bin/env python3\nimport socket\ns = socket.create_connection(('localhost', 8080))\ns.send(b'\\x00' * 70000)\n")
	crash := make([]byte, 3000)
	for i := range crash {
		crash[i] = byte(i * 7)
	}
	trace := []byte("==4711==ERROR: AddressSanitizer: heap-use-after-free on address 0x602000000010\n")
	pocPGP := gpgEncryptFile(t, g.reporter, poc, teamFpr)
	body := inlinePart{ctype: "text/plain", data: g.reporter.Encrypt([]byte(text), teamFpr, "")}
	key := inlinePart{ctype: "application/pgp-keys", name: "0x" + g.repFpr[24:] + ".asc", data: g.reporter.Export(g.repFpr)}
	g.send(enigmailMail(from, team, "inline-att-1@outside.example",
		body,
		inlinePart{ctype: "application/octet-stream", name: "poc.py.pgp", data: pocPGP, binary: true},
		inlinePart{ctype: "application/pgp-encrypted", name: "crash.bin.gpg", data: gpgEncryptFile(t, g.reporter, crash, teamFpr), binary: true},
		inlinePart{ctype: "application/octet-stream", name: "trace.txt.asc", data: g.reporter.Encrypt(trace, teamFpr, "")},
		key,
	))
	g.waitHandled("inline-att-1@outside.example")
	row := g.inbound("inline-att-1@outside.example")
	if row.class != ClassReport || !strings.HasPrefix(row.reason, "new report, encrypted") {
		t.Errorf("the inline report ended %s %q, want a new report, encrypted", row.class, row.reason)
	}
	if row.caseID != 0 {
		msgs, err := g.workflow.Messages(g.ctx, row.caseID)
		if err != nil || len(msgs) != 1 {
			t.Fatalf("case messages: %d %v", len(msgs), err)
		}
		m := msgs[0]
		if !m.Encrypted || !strings.Contains(m.Text, "INLINE-ATT-A") || strings.Contains(m.Text, "BEGIN PGP") {
			t.Errorf("case message: encrypted=%v text %q", m.Encrypted, m.Text)
		}
		got := map[string][]byte{}
		for _, a := range m.Attachments {
			got[a.Filename] = a.Data
		}
		for name, want := range map[string][]byte{"poc.py": poc, "crash.bin": crash, "trace.txt": trace} {
			if !bytes.Equal(got[name], want) {
				t.Errorf("case attachment %q: %d bytes, want the %d of the plaintext", name, len(got[name]), len(want))
			}
		}
	}

	// The reporter's acknowledgement, encrypted to the key they attached,
	// does not tell them their report was not encrypted.
	var ack string
	for _, raw := range g.stack.WaitMessages(t, "sink", "INBOX", 1, 60*time.Second) {
		ack = contentOf(t, g.reporter, raw, teamFpr)
	}
	if !strings.Contains(ack, "recorded as case") || strings.Contains(ack, "not encrypted") {
		t.Errorf("acknowledgement:\n%s", ack)
	}

	// Each member's copy holds the decrypted text and files.
	for member := range g.members {
		ctext, atts := g.teamCopyWith(member, "INLINE-ATT-A")
		if !strings.Contains(ctext, "Encrypted:  yes") || strings.Contains(ctext, "BEGIN PGP MESSAGE") || strings.Contains(ctext, "OUTSIDE") {
			t.Errorf("%s's copy:\n%s", member, ctext)
		}
		for name, want := range map[string][]byte{"poc.py": poc, "crash.bin": crash, "trace.txt": trace} {
			if !bytes.Equal(atts[name], want) {
				t.Errorf("%s's copy: attachment %q of %d bytes, want the %d of the plaintext", member, name, len(atts[name]), len(want))
			}
		}
		for name := range atts {
			if strings.HasSuffix(name, ".pgp") || strings.HasSuffix(name, ".gpg") {
				t.Errorf("%s's copy: attachment %q still encrypted", member, name)
			}
		}
	}

	// An attachment encrypted to a key we do not hold stays as it came,
	// and the team is told.
	stranger := gpgtest.New(t)
	sfpr := stranger.GenKey("Old Team <old-team@outside.example>", "ed25519")
	g.reporter.Import(stranger.Export(sfpr))
	notes := gpgEncryptFile(t, g.reporter, []byte("NOTES for the old team\n"), sfpr)
	g.send(enigmailMail(from, team, "inline-att-2@outside.example",
		inlinePart{ctype: "text/plain", data: g.reporter.Encrypt([]byte("INLINE-ATT-B: second report\n"), teamFpr, "")},
		inlinePart{ctype: "application/octet-stream", name: "notes.txt.pgp", data: notes, binary: true},
		key,
	))
	// A clear part next to the encrypted text: a report in clear, the
	// clear part shown outside the decrypted text.
	g.send(enigmailMail(from, team, "inline-att-3@outside.example",
		inlinePart{ctype: "text/plain", data: g.reporter.Encrypt([]byte("INLINE-ATT-C: third report\n"), teamFpr, "")},
		inlinePart{ctype: "text/plain", data: []byte("-- \nCLEAR-FOOTER added on the way\n")},
		inlinePart{ctype: "image/png", name: "shot.png", data: []byte("\x89PNG\r\n\x1a\nSHOT"), binary: true},
		key,
	))
	g.waitHandled("inline-att-2@outside.example")
	g.waitHandled("inline-att-3@outside.example")
	if row := g.inbound("inline-att-2@outside.example"); row.class != ClassReport || !strings.HasPrefix(row.reason, "new report, encrypted") {
		t.Errorf("report with an attachment to another key ended %s %q", row.class, row.reason)
	}
	if row := g.inbound("inline-att-3@outside.example"); row.class != ClassReport || !strings.HasPrefix(row.reason, "new report, in clear") {
		t.Errorf("report with a clear part ended %s %q", row.class, row.reason)
	}
	ctext, atts := g.teamCopyWith("alice", "INLINE-ATT-B")
	if !strings.Contains(ctext, "Encrypted:  yes") || !strings.Contains(ctext, `"notes.txt.pgp" not decrypted`) || !strings.Contains(ctext, "not to the team key") {
		t.Errorf("copy of the report with an attachment to another key:\n%s", ctext)
	}
	if !bytes.Equal(atts["notes.txt.pgp"], notes) {
		t.Errorf("notes.txt.pgp: %d bytes, want the %d it came with", len(atts["notes.txt.pgp"]), len(notes))
	}
	ctext, atts = g.teamCopyWith("alice", "INLINE-ATT-C")
	out, _, _ := strings.Cut(ctext, "OUTSIDE the encrypted part")
	if !strings.Contains(ctext, "Encrypted:  NO") || strings.Contains(out, "CLEAR-FOOTER") ||
		!strings.Contains(ctext, "| CLEAR-FOOTER added on the way") || !strings.Contains(ctext, `"shot.png" (image/png) came unencrypted`) {
		t.Errorf("copy of the report with a clear part:\n%s", ctext)
	}
	if _, ok := atts["shot.png"]; !ok {
		t.Errorf("copy of the report with a clear part: attachments %v", atts)
	}

	// Mallory re-sends the reporter's encrypted attachment in a mail in
	// clear of her own: the same ciphertext, held as a replay.
	mallory := g.newOutsider("Mallory", "mallory@evil.example")
	raw := enigmailMail("Mallory <"+mallory.addr+">", team, "inline-att-4@evil.example",
		inlinePart{ctype: "text/plain", data: []byte("Please look at my proof of concept.\n")},
		inlinePart{ctype: "application/octet-stream", name: "poc.py.pgp", data: pocPGP, binary: true},
	)
	g.stack.Send(t, mallory.addr, []string{team}, raw)
	g.waitHandled("inline-att-4@evil.example")
	if row := g.inbound("inline-att-4@evil.example"); row.class != ClassReplay || row.caseID != 0 {
		t.Errorf("the re-sent attachment ended %s %q in case %d, want a replay", row.class, row.reason, row.caseID)
	}
	if n := len(g.cases()); n != 3 {
		t.Errorf("%d cases, want 3", n)
	}
}
