package crypto

import (
	"bytes"
	"errors"
	"fmt"
	"html"
	"io"
	"strings"

	"github.com/emersion/go-message"
	_ "github.com/emersion/go-message/charset" // decoders for non-UTF-8 charsets
)

// Attachment is a decoded attachment of an inbound message.
type Attachment struct {
	Filename    string
	ContentType string
	Data        []byte
	// Spool holds the decoded attachment instead of Data when it was
	// bigger than SpoolAbove and TextBodySpooled was given spools.
	Spool Spool
}

// TextBody decodes a content entity to its text (UTF-8; text/plain
// preferred, HTML reduced to text) and its attachments, within
// DefaultLimits. Attachments are returned opaque, never unpacked.
func TextBody(entity []byte) (string, []Attachment, error) {
	return textBodyOf(entity, nil, 0)
}

// textBodyOf is TextBody, with big attachments decoded into spools when
// spools is set: those bigger than above bytes (TextBodySpooled).
func textBodyOf(entity []byte, spools func() (Spool, error), above int64) (string, []Attachment, error) {
	lim := DefaultLimits()
	if int64(len(entity)) > lim.MaxMessageBytes {
		return "", nil, fmt.Errorf("crypto: text body: %w: %d bytes", ErrTooComplex, len(entity))
	}
	raw := canonCRLF(entity)
	h, _ := splitEntity(raw)
	if len(h) > 0 {
		if _, err := parseHeader(h, lim.MaxHeaderFields); err != nil {
			return "", nil, fmt.Errorf("crypto: text body: %w", err)
		}
	}
	src := bytes.NewReader(raw)
	return textBody(src, &textWalker{lim: lim, budget: lim.MaxDecompressedBytes, src: src, spools: spools, above: above})
}

// textBody walks the entity r reads with w.
func textBody(r io.Reader, w *textWalker) (string, []Attachment, error) {
	e, err := message.Read(r)
	if err != nil && !message.IsUnknownCharset(err) && !message.IsUnknownEncoding(err) {
		return "", nil, fmt.Errorf("crypto: text body: %w: %v", ErrNotMIME, err)
	}
	if err := w.walk(e, 0); err != nil {
		w.discard()
		return "", nil, fmt.Errorf("crypto: text body: %w", err)
	}
	return strings.TrimRight(w.text.String(), "\r\n") + "\n", w.atts, nil
}

type textWalker struct {
	lim    Limits
	parts  int
	budget int64
	text   strings.Builder
	atts   []Attachment
	// src reads the entity: what it has left bounds what a part decodes
	// to (readPart). nil when the entity comes as a stream.
	src *bytes.Reader
	// spools, when set, makes the spool each attachment bigger than
	// above bytes is decoded into as it is read (TextBodySpooled), in
	// place of its buffer: prepared holds it, by the entity made of it,
	// until walk reaches that entity.
	spools   func() (Spool, error)
	prepared map[*message.Entity]Attachment
	made     []Spool // the spools made, discarded on error
	above    int64   // the size past which an attachment is spooled
	// buffered are the bodies of the parts a multipart was read into,
	// by the entity made of each, so that a part is read once: a big
	// attachment is not copied from its buffer into another.
	buffered map[*message.Entity][]byte
}

// body reads e's body: the buffer it was made of, counted against the
// budget as reading it again would be, or its reader.
func (w *textWalker) body(e *message.Entity) ([]byte, error) {
	b, ok := w.buffered[e]
	if !ok {
		return w.read(e.Body, e.Header.Get("Content-Transfer-Encoding"))
	}
	delete(w.buffered, e)
	if int64(len(b)) > w.budget {
		return nil, fmt.Errorf("%w: decoded content larger than %d bytes", ErrTooComplex, w.lim.MaxDecompressedBytes)
	}
	w.budget -= int64(len(b))
	return b, nil
}

// read reads a body decoded from the transfer encoding cte.
func (w *textWalker) read(r io.Reader, cte string) ([]byte, error) {
	b, err := w.readPart(io.LimitReader(r, w.budget+1), strings.EqualFold(strings.TrimSpace(cte), "base64"))
	b, _, err = w.counted(b, err)
	return b, err
}

// readPart is io.ReadAll of a part's decoded body. Past its first 64 KiB
// it reads the rest into one buffer as big as what is left of the entity
// decodes to at the most (3/4 of it from base64; a transfer encoding
// never widens), so that a big attachment is not copied each time its
// buffer grows; the buffer still grows when that bound is wrong (a
// charset that widens), and is cut to size when the part was much smaller
// than it.
func (w *textWalker) readPart(r io.Reader, base64 bool) ([]byte, error) {
	const head = 64 << 10
	b, err := io.ReadAll(io.LimitReader(r, head))
	if err != nil || len(b) < head {
		return b, err
	}
	if w.src == nil { // the entity comes as a stream: no bound known
		rest, err := io.ReadAll(r)
		return append(b, rest...), err
	}
	left := int64(w.src.Len()) + head // and what the readers hold
	if base64 {
		left = left/4*3 + 3
	}
	b = append(make([]byte, 0, min(int64(len(b))+left, w.budget+1)), b...)
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			break
		}
		if err != nil {
			return b, err
		}
	}
	if cap(b)-len(b) > len(b)/4 {
		b = bytes.Clone(b)
	}
	return b, nil
}

func (w *textWalker) walk(e *message.Entity, depth int) error {
	if depth > w.lim.MaxDepth {
		return fmt.Errorf("%w: nesting deeper than %d", ErrTooComplex, w.lim.MaxDepth)
	}
	w.parts++
	if w.parts > w.lim.MaxParts {
		return fmt.Errorf("%w: more than %d parts", ErrTooComplex, w.lim.MaxParts)
	}
	t, params, filename, inline := partType(e.Header)
	if mr := e.MultipartReader(); mr != nil {
		var kids []*message.Entity
		for {
			p, err := mr.NextPart()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil && !message.IsUnknownCharset(err) && !message.IsUnknownEncoding(err) {
				if len(kids) > 0 || errors.Is(err, io.ErrUnexpectedEOF) {
					break // truncated multipart: keep what was read
				}
				return fmt.Errorf("%w: %v", ErrNotMIME, err)
			}
			if len(kids) >= w.lim.MaxParts {
				return fmt.Errorf("%w: more than %d parts", ErrTooComplex, w.lim.MaxParts)
			}
			// Buffer the part (the multipart reader reuses its stream),
			// or, an attachment with spools, decode it into one.
			var body []byte
			a, spooled, err := w.spoolPart(p, t)
			if err != nil {
				return err
			}
			if !spooled {
				if body, err = w.read(p.Body, p.Header.Get("Content-Transfer-Encoding")); err != nil {
					return err
				}
			}
			// Its body is already decoded: the copy says so.
			h := p.Header.Copy()
			h.Del("Content-Transfer-Encoding")
			if kt, kp, err := h.ContentType(); err == nil && strings.HasPrefix(strings.ToLower(kt), "text/") && kp["charset"] != "" {
				kp["charset"] = "utf-8"
				h.SetContentType(kt, kp)
			}
			kid, err := message.New(h, bytes.NewReader(body))
			if err != nil && !message.IsUnknownCharset(err) && !message.IsUnknownEncoding(err) {
				return fmt.Errorf("%w: %v", ErrNotMIME, err)
			}
			if kid == nil {
				if a.Spool != nil {
					a.Spool.Discard()
				}
				continue
			}
			if spooled {
				w.prepared[kid] = a
			} else {
				if w.buffered == nil {
					w.buffered = map[*message.Entity][]byte{}
				}
				w.buffered[kid] = body
			}
			kids = append(kids, kid)
		}
		if t == "multipart/alternative" && len(kids) > 0 {
			return w.walk(pickAlternative(kids), depth+1)
		}
		for _, k := range kids {
			if err := w.walk(k, depth+1); err != nil {
				return err
			}
		}
		return nil
	}
	if a, ok, err := w.spooled(e, t, filename, inline); ok || err != nil {
		if err == nil {
			w.atts = append(w.atts, a)
		}
		return err
	}
	body, err := w.body(e)
	if err != nil {
		return err
	}
	switch {
	case inline && t == "text/plain" && strings.EqualFold(params["format"], "flowed"):
		w.addText(unflow(string(body), strings.EqualFold(params["delsp"], "yes")))
	case inline && t == "text/plain":
		w.addText(string(body))
	case inline && t == "text/html":
		w.addText(htmlToText(string(body)))
	case t == "application/pgp-signature" || t == "application/pgp-keys" && filename == "":
		// Signature and key parts are no attachments for a reader.
		if t == "application/pgp-keys" {
			w.atts = append(w.atts, Attachment{Filename: "key.asc", ContentType: t, Data: body})
		}
	default:
		w.atts = append(w.atts, Attachment{Filename: filename, ContentType: t, Data: body})
	}
	return nil
}

func (w *textWalker) addText(s string) {
	s = strings.ToValidUTF8(strings.ReplaceAll(s, "\r\n", "\n"), "\uFFFD")
	if w.text.Len() > 0 {
		w.text.WriteString("\n")
	}
	w.text.WriteString(strings.TrimRight(s, "\n"))
	w.text.WriteString("\n")
}

// unflow decodes format=flowed text (RFC 3676 §4.2): a line ending in a
// space (a soft break) is joined with the next line of the same quote
// depth, with that space removed when delsp; space-stuffing is removed;
// the signature separator "-- " is never joined with a line before or
// after. Quoted lines come back with their depth of '>' and a space.
func unflow(s string, delsp bool) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	lines := strings.Split(strings.TrimSuffix(s, "\n"), "\n")
	var b, para strings.Builder
	depth := -1 // quote depth of the open paragraph; -1: none
	end := func() {
		if depth < 0 {
			return
		}
		if depth > 0 {
			b.WriteString(strings.Repeat(">", depth) + " ")
		}
		b.WriteString(para.String())
		b.WriteString("\n")
		para.Reset()
		depth = -1
	}
	for _, l := range lines {
		d := 0
		for d < len(l) && l[d] == '>' {
			d++
		}
		l = strings.TrimPrefix(l[d:], " ")
		sep := l == "-- "
		if depth >= 0 && (d != depth || sep) {
			end() // a soft break never crosses quote depths or the separator
		}
		depth = d
		flowed := !sep && strings.HasSuffix(l, " ")
		if flowed && delsp {
			l = l[:len(l)-1]
		}
		para.WriteString(l)
		if !flowed {
			end()
		}
	}
	end()
	return b.String()
}

// pickAlternative prefers text/plain, then text/html, then the last part.
func pickAlternative(kids []*message.Entity) *message.Entity {
	for _, want := range []string{"text/plain", "text/html"} {
		for _, k := range kids {
			if t, _, _ := k.Header.ContentType(); strings.EqualFold(t, want) {
				return k
			}
		}
	}
	return kids[len(kids)-1]
}

// htmlToText reduces HTML to its text: scripts, styles and tags removed,
// entities decoded, block elements turned into line breaks.
func htmlToText(s string) string {
	var b strings.Builder
	lower := strings.ToLower(s)
	for i := 0; i < len(s); {
		if s[i] != '<' {
			j := strings.IndexByte(s[i:], '<')
			if j < 0 {
				j = len(s) - i
			}
			b.WriteString(html.UnescapeString(s[i : i+j]))
			i += j
			continue
		}
		end := strings.IndexByte(s[i:], '>')
		if end < 0 {
			break
		}
		tag := strings.TrimLeft(lower[i+1:i+end], "/")
		name := tag
		if k := strings.IndexAny(name, " \t\r\n/"); k >= 0 {
			name = name[:k]
		}
		i += end + 1
		switch name {
		case "script", "style", "head", "title":
			if !strings.HasPrefix(lower[i-end-1:], "</") {
				if k := strings.Index(lower[i:], "</"+name); k >= 0 {
					i += k
				} else {
					i = len(s)
				}
			}
		case "br", "p", "div", "tr", "li", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre", "table":
			b.WriteString("\n")
		}
	}
	lines := strings.Split(b.String(), "\n")
	out := lines[:0]
	blank := 0
	for _, l := range lines {
		l = strings.TrimRight(l, " \t\r")
		if l == "" {
			if blank++; blank > 1 {
				continue
			}
		} else {
			blank = 0
		}
		out = append(out, l)
	}
	return strings.TrimSpace(strings.Join(out, "\n"))
}

// ProtectedHeaders returns the Subject and From header fields carried inside
// a content entity (RFC 9788 header protection, or the older
// protected-headers="v1"), RFC 2047 decoded. ok is false when the entity
// has no protected Subject; callers then fall back to the outer header,
// which no signature covers.
func ProtectedHeaders(entity []byte) (subject, from string, ok bool) {
	h, _ := splitEntity(canonCRLF(entity))
	hdr, err := parseHeader(h, DefaultLimits().MaxHeaderFields)
	if err != nil || !hdr.Has("Subject") {
		return "", "", false
	}
	mh := message.Header{Header: hdr}
	subject, err = mh.Text("Subject")
	if err != nil {
		subject = hdr.Get("Subject")
	}
	from, err = mh.Text("From")
	if err != nil {
		from = hdr.Get("From")
	}
	return headerSafe(subject), headerSafe(from), true
}
