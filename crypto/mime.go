package crypto

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"mime"
	"mime/quotedprintable"
	"sort"
	"strings"
)

// newBoundary returns a random multipart boundary, or the test override.
func (k *Key) newBoundary() string {
	if k.boundary != nil {
		return k.boundary()
	}
	var b [18]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("crypto: no randomness: " + err.Error())
	}
	// "=_" never occurs in base64 or quoted-printable text.
	return "=_" + hex.EncodeToString(b[:])
}

// formatMediaType writes a Content-Type value with parameters in a fixed
// order (sorted), so output is reproducible.
func formatMediaType(t string, params map[string]string) string {
	keys := make([]string, 0, len(params))
	for k := range params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString(t)
	for _, k := range keys {
		v := params[k]
		one := mime.FormatMediaType("x/y", map[string]string{k: v})
		if one == "" {
			continue // not representable: an invalid name or value
		}
		if !isASCII(v) {
			// RFC 2231: name*=utf-8''percent-encoded.
			b.WriteString(";\r\n\t" + strings.TrimPrefix(one, "x/y; "))
			continue
		}
		b.WriteString(";\r\n\t" + strings.ToLower(k) + `="`)
		for i := 0; i < len(v); i++ {
			if v[i] == '\\' || v[i] == '"' {
				b.WriteByte('\\')
			}
			b.WriteByte(v[i])
		}
		b.WriteString(`"`)
	}
	return b.String()
}

// headerSafe removes line breaks and other controls from a header value.
func headerSafe(s string) string {
	return strings.Map(func(r rune) rune {
		if r < ' ' && r != '\t' || r == 0x7f {
			return -1
		}
		return r
	}, s)
}

// needsEncoding reports whether a body must be encoded to travel as 7-bit
// text that no MTA rewrites: 8-bit bytes, long lines, trailing white space
// or a line beginning with "From ".
func needsEncoding(body []byte) bool {
	for _, line := range bytes.Split(body, []byte("\r\n")) {
		if len(line) > 76 || bytes.HasPrefix(line, []byte("From ")) {
			return true
		}
		if n := len(line); n > 0 && (line[n-1] == ' ' || line[n-1] == '\t') {
			return true
		}
		for _, c := range line {
			if c >= 0x80 || c == 0 || c == '\r' || c == '\n' {
				return true
			}
		}
	}
	return false
}

// is7bit reports whether every byte is 7-bit, non-NUL, and lines are short.
func is7bit(body []byte) bool {
	for len(body) > 0 {
		line, rest, _ := bytes.Cut(body, []byte("\r\n"))
		body = rest
		if len(line) > 998 {
			return false
		}
		for _, c := range line {
			if c >= 0x80 || c == 0 || c == '\r' || c == '\n' {
				return false
			}
		}
	}
	return true
}

// encodeQP quoted-printable encodes a CRLF text body.
func encodeQP(body []byte) []byte {
	var buf bytes.Buffer
	w := quotedprintable.NewWriter(&buf)
	// Escape "From " at the start of a line: QP cannot, so encode the F.
	lines := bytes.Split(body, []byte("\r\n"))
	for i, line := range lines {
		if bytes.HasPrefix(line, []byte("From ")) {
			w.Close()
			buf.WriteString("=46")
			w = quotedprintable.NewWriter(&buf)
			line = line[1:]
		}
		w.Write(line)
		if i < len(lines)-1 {
			w.Write([]byte("\r\n"))
		}
	}
	w.Close()
	return canonCRLF(buf.Bytes())
}

func fmtErr(op string, err error) error { return fmt.Errorf("crypto: %s: %w", op, err) }
