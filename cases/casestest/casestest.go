// Package casestest builds command mails for tests of the packages that
// feed cases.Workflow.HandleCommandMail (intake's integration tests).
package casestest

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/secgate/secgate/crypto"
)

// Options describe a command mail.
type Options struct {
	From      string // member's address, may carry a display name
	To        string // the team address
	Subject   string // real subject: in the protected headers, and outside unless HideSubject
	Body      string // the text with the commands; LF or CRLF
	At        time.Time
	InReplyTo string // "<id>" of a gateway mail, for threading
	// HideSubject puts "..." in the outer Subject, as clients with header
	// protection do; the real one stays in the signed part.
	HideSubject bool
	// SignOnly sends multipart/signed without encryption.
	SignOnly bool
}

// CommandMail returns the raw bytes of a command mail as a member's client
// sends it: the body signed with member (a private key) and, unless
// SignOnly, encrypted to team (PGP/MIME), with outer header fields and CRLF
// line ends. It also returns the Message-ID it used.
func CommandMail(member, team *crypto.Key, o Options) (raw []byte, msgID string, err error) {
	if o.At.IsZero() {
		o.At = time.Now()
	}
	body := strings.ReplaceAll(strings.ReplaceAll(o.Body, "\r\n", "\n"), "\n", "\r\n")
	if !strings.HasSuffix(body, "\r\n") {
		body += "\r\n"
	}
	entity := "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n" + body
	s, err := member.Sign(crypto.Content{Subject: o.Subject, From: o.From, Entity: []byte(entity)}, o.At)
	if err != nil {
		return nil, "", fmt.Errorf("casestest: sign: %w", err)
	}
	content, err := s.Entity()
	if err != nil {
		return nil, "", fmt.Errorf("casestest: sign: %w", err)
	}
	if !o.SignOnly {
		if content, err = s.SealFor(team.Public(), o.At); err != nil {
			return nil, "", fmt.Errorf("casestest: seal: %w", err)
		}
	}
	b := make([]byte, 12)
	rand.Read(b)
	msgID = "<" + hex.EncodeToString(b) + "@member.test>"
	subj := o.Subject
	if o.HideSubject {
		subj = "..."
	}
	var h strings.Builder
	fmt.Fprintf(&h, "From: %s\r\nTo: %s\r\nSubject: %s\r\nDate: %s\r\nMessage-ID: %s\r\n", o.From, o.To, subj, o.At.Format(time.RFC1123Z), msgID)
	if o.InReplyTo != "" {
		fmt.Fprintf(&h, "In-Reply-To: %s\r\nReferences: %s\r\n", o.InReplyTo, o.InReplyTo)
	}
	h.WriteString("MIME-Version: 1.0\r\n")
	return append([]byte(h.String()), content...), msgID, nil
}
