package casestest

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/secgate/secgate/internal/gpgtest"
)

// GPGCommandMail returns a command mail made with the real gpg binary, in
// the layout mail clients use: a text/plain part with its own MIME header
// fields and CRLF line ends, signed by signerFpr with a detached signature
// (multipart/signed, RFC 3156 §5). With teamFpr (a key imported into g) the
// part is signed and encrypted in one OpenPGP message instead
// (multipart/encrypted, RFC 3156 §6.2). o.At only sets the Date header: gpg
// signs at the current time.
func GPGCommandMail(g *gpgtest.GPG, signerFpr, teamFpr string, o Options) (raw []byte, msgID string) {
	if o.At.IsZero() {
		o.At = time.Now()
	}
	body := strings.ReplaceAll(strings.ReplaceAll(o.Body, "\r\n", "\n"), "\n", "\r\n")
	if !strings.HasSuffix(body, "\r\n") {
		body += "\r\n"
	}
	part := "Content-Type: text/plain; charset=utf-8\r\nContent-Disposition: inline\r\nContent-Transfer-Encoding: 8bit\r\n\r\n" + body
	b := make([]byte, 12)
	rand.Read(b)
	boundary := "gpg" + hex.EncodeToString(b[:6])
	msgID = "<" + hex.EncodeToString(b) + "@member.test>"
	var content string
	if teamFpr == "" {
		sig := g.Sign([]byte(part), signerFpr, gpgtest.Detached)
		content = "Content-Type: multipart/signed; micalg=pgp-sha256;\r\n protocol=\"application/pgp-signature\"; boundary=\"" + boundary + "\"\r\n\r\n" +
			"This is an OpenPGP/MIME signed message (RFC 4880 and 3156)\r\n--" + boundary + "\r\n" + part + "\r\n--" + boundary + "\r\n" +
			"Content-Type: application/pgp-signature; name=\"signature.asc\"\r\nContent-Description: OpenPGP digital signature\r\n\r\n" +
			crlf(string(sig)) + "\r\n--" + boundary + "--\r\n"
	} else {
		ct := g.Encrypt([]byte(part), teamFpr, signerFpr)
		content = "Content-Type: multipart/encrypted; protocol=\"application/pgp-encrypted\"; boundary=\"" + boundary + "\"\r\n\r\n" +
			"This is an OpenPGP/MIME encrypted message (RFC 4880 and 3156)\r\n--" + boundary + "\r\n" +
			"Content-Type: application/pgp-encrypted\r\nContent-Description: PGP/MIME version identification\r\n\r\nVersion: 1\r\n\r\n--" + boundary + "\r\n" +
			"Content-Type: application/octet-stream; name=\"encrypted.asc\"\r\nContent-Disposition: inline; filename=\"encrypted.asc\"\r\n\r\n" +
			crlf(string(ct)) + "\r\n--" + boundary + "--\r\n"
	}
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
	return []byte(h.String() + content), msgID
}

func crlf(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "\r\n", "\n"), "\n", "\r\n")
}
