package crypto

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"mime"
	"strings"

	"github.com/emersion/go-message/textproto"
)

// canonCRLF returns b with every line ending turned into CRLF (a bare LF
// becomes CRLF; existing CRLF stays). It returns b itself when nothing
// changes.
func canonCRLF(b []byte) []byte {
	bare := 0
	for i, c := range b {
		if c == '\n' && (i == 0 || b[i-1] != '\r') {
			bare++
		}
	}
	if bare == 0 {
		return b
	}
	out := make([]byte, 0, len(b)+bare)
	for i, c := range b {
		if c == '\n' && (i == 0 || b[i-1] != '\r') {
			out = append(out, '\r')
		}
		out = append(out, c)
	}
	return out
}

// splitEntity splits a CRLF-canonical entity into its header (without the
// blank line) and body. An entity without a blank line is all header.
func splitEntity(b []byte) (header, body []byte) {
	if bytes.HasPrefix(b, []byte("\r\n")) {
		return nil, b[2:]
	}
	if i := bytes.Index(b, []byte("\r\n\r\n")); i >= 0 {
		return b[:i+2], b[i+4:]
	}
	return b, nil
}

// parseHeader reads the header fields of an entity. It refuses bytes that
// are not header fields, so arbitrary data is reported as not MIME.
func parseHeader(h []byte, maxFields int) (textproto.Header, error) {
	if len(h) > 0 {
		// The first line must be a field name, a colon, a value.
		line := h
		if i := bytes.IndexByte(line, '\n'); i >= 0 {
			line = line[:i]
		}
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 {
			return textproto.Header{}, fmt.Errorf("%w: first line is not a header field", ErrNotMIME)
		}
		for _, c := range line[:colon] {
			if c <= ' ' || c >= 0x7f {
				return textproto.Header{}, fmt.Errorf("%w: invalid header field name", ErrNotMIME)
			}
		}
	}
	if n := bytes.Count(h, []byte("\n")); n > maxFields*4 {
		return textproto.Header{}, fmt.Errorf("%w: %d header lines", ErrTooComplex, n)
	}
	buf := make([]byte, 0, len(h)+2)
	buf = append(append(buf, h...), "\r\n"...)
	// A reader of the header's size: bufio's default of 4 KiB would be
	// allocated and cleared for every entity of every message.
	hdr, err := textproto.ReadHeader(bufio.NewReaderSize(bytes.NewReader(buf), len(buf)))
	if err != nil {
		return textproto.Header{}, fmt.Errorf("%w: %v", ErrNotMIME, err)
	}
	n := 0
	for f := hdr.Fields(); f.Next(); {
		n++
	}
	if n > maxFields {
		return textproto.Header{}, fmt.Errorf("%w: %d header fields", ErrTooComplex, n)
	}
	return hdr, nil
}

// mediaType returns the lower-case media type and parameters of a header,
// text/plain when there is no Content-Type.
func mediaType(h textproto.Header) (string, map[string]string, error) {
	v := h.Get("Content-Type")
	if strings.TrimSpace(v) == "" {
		return "text/plain", map[string]string{}, nil
	}
	t, params, err := mime.ParseMediaType(v)
	if err != nil && !errors.Is(err, mime.ErrInvalidMediaParameter) {
		return "", nil, fmt.Errorf("%w: Content-Type %q: %v", ErrNotMIME, v, err)
	}
	if params == nil {
		params = map[string]string{}
	}
	return strings.ToLower(t), params, nil
}

// splitMultipart returns the exact bytes of each body part of a multipart
// body (CRLF canonical), as RFC 2046 defines them: the CRLF before a
// delimiter belongs to the delimiter. Transport padding after a delimiter
// is allowed; a missing close delimiter ends the last part at the end of the
// body. The preamble and epilogue are dropped.
func splitMultipart(body []byte, boundary string, maxParts int) ([][]byte, error) {
	if boundary == "" || len(boundary) > 200 {
		return nil, fmt.Errorf("%w: invalid multipart boundary", ErrNotMIME)
	}
	delim := []byte("--" + boundary)
	var parts [][]byte
	start := -1 // start of the current part, -1 in the preamble
	pos := 0
	for pos <= len(body) {
		lineEnd := bytes.Index(body[pos:], []byte("\r\n"))
		next := len(body) + 1
		line := body[pos:]
		if lineEnd >= 0 {
			line = body[pos : pos+lineEnd]
			next = pos + lineEnd + 2
		}
		if bytes.HasPrefix(line, delim) {
			rest := line[len(delim):]
			closing := bytes.HasPrefix(rest, []byte("--"))
			if closing {
				rest = rest[2:]
			}
			if len(bytes.TrimRight(rest, " \t")) == 0 {
				if start >= 0 {
					end := pos - 2
					if end < start {
						end = start
					}
					parts = append(parts, body[start:end])
					if len(parts) > maxParts {
						return nil, fmt.Errorf("%w: more than %d parts", ErrTooComplex, maxParts)
					}
				}
				if closing {
					return parts, nil
				}
				start = next
				if start > len(body) {
					start = len(body)
				}
			}
		}
		pos = next
	}
	if start < 0 {
		return nil, fmt.Errorf("%w: multipart body has no delimiter for boundary %q", ErrNotMIME, boundary)
	}
	// No close delimiter: the last part runs to the end of the body.
	last := bytes.TrimSuffix(body[start:], []byte("\r\n"))
	parts = append(parts, last)
	if len(parts) > maxParts {
		return nil, fmt.Errorf("%w: more than %d parts", ErrTooComplex, maxParts)
	}
	return parts, nil
}
