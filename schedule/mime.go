package schedule

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"mime/quotedprintable"
	"strings"
)

// attachment is a file added to a mail body.
type attachment struct {
	Filename    string
	ContentType string
	Data        []byte
}

// entity builds the body MIME entity of a mail: text/plain alone, or
// multipart/mixed with the attachments. seed makes the boundary stable, so
// a retried job produces the same bytes.
func entity(text string, seed string, atts ...attachment) []byte {
	var b bytes.Buffer
	writeText := func() {
		b.WriteString("Content-Type: text/plain; charset=utf-8\r\n")
		b.WriteString("Content-Transfer-Encoding: quoted-printable\r\n\r\n")
		text = strings.ReplaceAll(text, "\r\n", "\n")
		qp := quotedprintable.NewWriter(&b)
		qp.Write([]byte(strings.ReplaceAll(text, "\n", "\r\n")))
		qp.Close()
		if !bytes.HasSuffix(b.Bytes(), []byte("\r\n")) {
			b.WriteString("\r\n")
		}
	}
	if len(atts) == 0 {
		writeText()
		return b.Bytes()
	}
	h := sha256.Sum256([]byte(seed))
	boundary := "secgate-" + hex.EncodeToString(h[:12])
	b.WriteString("Content-Type: multipart/mixed; boundary=\"" + boundary + "\"\r\n\r\n")
	b.WriteString("--" + boundary + "\r\n")
	writeText()
	for _, a := range atts {
		b.WriteString("--" + boundary + "\r\n")
		b.WriteString("Content-Type: " + a.ContentType + "; name=\"" + a.Filename + "\"\r\n")
		b.WriteString("Content-Disposition: attachment; filename=\"" + a.Filename + "\"\r\n")
		b.WriteString("Content-Transfer-Encoding: base64\r\n\r\n")
		enc := base64.StdEncoding.EncodeToString(a.Data)
		for len(enc) > 76 {
			b.WriteString(enc[:76] + "\r\n")
			enc = enc[76:]
		}
		b.WriteString(enc + "\r\n")
	}
	b.WriteString("--" + boundary + "--\r\n")
	return b.Bytes()
}
