package distlist

import (
	"bytes"
	"errors"
	"mime"
	"net/mail"
	"strings"
	"time"
	"unicode"

	"github.com/secgate/secgate/templates"
)

// headerSafe makes a header value safe: bidi controls, zero-width
// characters and line and paragraph separators are shown as "<U+202E>"
// (templates.Visible), a tab becomes a space, CR, LF, NUL and every other
// control character is removed, and the length is capped.
func headerSafe(s string) string {
	var b strings.Builder
	for _, r := range templates.Visible(s) {
		switch {
		case r == '\t':
			b.WriteRune(' ')
		case unicode.IsControl(r):
		default:
			b.WriteRune(r)
		}
	}
	out := strings.TrimSpace(b.String())
	if len(out) > 900 {
		out = out[:900]
		for !utf8Valid(out) {
			out = out[:len(out)-1]
		}
	}
	return out
}

func utf8Valid(s string) bool { return strings.ToValidUTF8(s, "\uFFFD") == s }

// encodeText encodes free text for a header (RFC 2047 when needed).
func encodeText(s string) string {
	return mime.QEncoding.Encode("utf-8", headerSafe(s))
}

// formatAddress formats one canonical address (CanonicalAddress) with an
// optional display name for a header field: the name made safe and
// encoded as RFC 2047 asks when it is not ASCII, the address as it is,
// quoted local part and UTF-8 included (RFC 6532: such a message goes only
// with SMTPUTF8).
func formatAddress(name, addr string) string {
	a := mail.Address{Name: headerSafe(name), Address: addr}
	if p, err := mail.ParseAddress(addr); err == nil {
		a.Address = p.Address // unquoted: String quotes it again
	}
	return a.String()
}

// fold writes "Name: value" folded at spaces to lines of at most 78
// characters where possible, ending in CRLF.
func fold(b *bytes.Buffer, name, value string) {
	line := name + ": "
	words := strings.Split(value, " ")
	if len(line)+len(words[0]) > 78 {
		b.WriteString(name + ":\r\n")
		line = " "
	}
	for i, w := range words {
		if i > 0 {
			if len(line)+1+len(w) > 78 {
				b.WriteString(line)
				b.WriteString("\r\n")
				line = " " + w
				continue
			}
			line += " "
		}
		line += w
	}
	b.WriteString(line)
	b.WriteString("\r\n")
}

// outer holds the outer header fields of one message.
type outer struct {
	From       string // formatted
	To         string // formatted, the recipient alone
	Subject    string // already encoded
	Date       time.Time
	MessageID  string // without <>
	InReplyTo  string
	References []string
	ReplyTo    string
	Auto       bool
	Autocrypt  string // the Autocrypt field's value, "" for none
}

var errBareLine = errors.New("entity has a bare CR")

// compose prepends the outer header fields to entity (header fields, blank
// line, body) and makes every line end CRLF.
func compose(h outer, entity []byte) ([]byte, error) {
	b := h.header(len(entity), !hasField(entity, "MIME-Version"))
	if err := appendCRLF(b, entity); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// header writes the outer header fields (MIME-Version when asked) into a
// buffer with room for n more bytes: the entity that follows.
func (h outer) header(n int, mimeVersion bool) *bytes.Buffer {
	return h.headerIn(make([]byte, 0, n+h.size()), mimeVersion)
}

// headerIn is header writing into buf, which it empties first: with room
// for the entity as well (h.size() and its length), the entity is
// appended without copying the message.
func (h outer) headerIn(buf []byte, mimeVersion bool) *bytes.Buffer {
	b := bytes.NewBuffer(buf[:0])
	fold(b, "From", h.From)
	fold(b, "To", h.To)
	fold(b, "Subject", h.Subject)
	b.WriteString("Date: " + h.Date.UTC().Format(time.RFC1123Z) + "\r\n")
	b.WriteString("Message-ID: <" + h.MessageID + ">\r\n")
	if id := msgID(h.InReplyTo); id != "" {
		b.WriteString("In-Reply-To: " + id + "\r\n")
	}
	var refs []string
	for _, r := range h.References {
		if id := msgID(r); id != "" {
			refs = append(refs, id)
		}
	}
	if len(refs) > 0 {
		fold(b, "References", strings.Join(refs, " "))
	}
	if h.ReplyTo != "" {
		fold(b, "Reply-To", h.ReplyTo)
	}
	if h.Auto {
		b.WriteString("Auto-Submitted: auto-generated\r\n")
	}
	if h.Autocrypt != "" {
		fold(b, "Autocrypt", h.Autocrypt)
	}
	if mimeVersion {
		b.WriteString("MIME-Version: 1.0\r\n")
	}
	return b
}

// size is at least the length of the header fields header writes: the
// fixed fields in 512 bytes, what varies (an Autocrypt field carries a
// key) counted with a line break and a space every 64 bytes of folding.
// Too small, and appending the entity would copy the whole message again.
func (h outer) size() int {
	n := len(h.From) + len(h.To) + len(h.Subject) + len(h.MessageID) + len(h.InReplyTo) + len(h.ReplyTo) + len(h.Autocrypt)
	for _, r := range h.References {
		n += len(r) + 1
	}
	return 512 + n + n/64*3
}

// msgID formats a Message-ID reference as <id>, or "" when it is unusable:
// it must be printable ASCII, so that one taken from a report carries no
// hidden character into a header and does not make the message need
// SMTPUTF8.
func msgID(s string) string {
	s = strings.Trim(strings.TrimSpace(s), "<>")
	if s == "" || !strings.Contains(s, "@") {
		return ""
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c > '~' || c == '<' || c == '>' {
			return ""
		}
	}
	return "<" + s + ">"
}

// hasField reports whether the header of entity has a field called name.
func hasField(entity []byte, name string) bool {
	hdr := entity
	if i := bytes.Index(entity, []byte("\r\n\r\n")); i >= 0 {
		hdr = entity[:i+2]
	} else if i := bytes.Index(entity, []byte("\n\n")); i >= 0 {
		hdr = entity[:i+1]
	}
	for _, line := range bytes.Split(hdr, []byte("\n")) {
		if k, _, ok := bytes.Cut(line, []byte(":")); ok && strings.EqualFold(string(bytes.TrimSpace(k)), name) {
			return true
		}
	}
	return false
}

// appendCRLF appends src turning bare LF into CRLF; a bare CR is an error.
func appendCRLF(b *bytes.Buffer, src []byte) error {
	for i := 0; i < len(src); i++ {
		c := src[i]
		switch c {
		case '\r':
			if i+1 >= len(src) || src[i+1] != '\n' {
				return errBareLine
			}
			b.WriteString("\r\n")
			i++
		case '\n':
			b.WriteString("\r\n")
		default:
			b.WriteByte(c)
		}
	}
	if !bytes.HasSuffix(b.Bytes(), []byte("\r\n")) {
		b.WriteString("\r\n")
	}
	return nil
}
