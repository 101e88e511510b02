package crypto

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/emersion/go-message"
)

// Spool holds a big value out of memory (the caller's store, sealed at
// rest): written once, then read from its start as often as wanted.
type Spool interface {
	io.Writer
	// Close ends the writing: the value is complete.
	Close() error
	// Open returns a reader of the value from its start.
	Open() (io.Reader, error)
	// Size is the number of bytes written.
	Size() int64
	// Discard lets the value go; best effort.
	Discard()
}

// SpoolAbove is the size past which TextBodySpooled decodes an attachment
// into a spool rather than into memory.
const SpoolAbove = 1 << 20

// TextBodySpooled is TextBody with each attachment bigger than SpoolAbove
// decoded into a spool that spools makes, as it is read (Attachment.Spool
// instead of Data), so that a big attachment is never whole in memory. The
// text and the attachments are TextBody's otherwise. On error the spools
// made are discarded.
func TextBodySpooled(entity []byte, spools func() (Spool, error)) (string, []Attachment, error) {
	return textBodyOf(entity, spools, SpoolAbove)
}

// TextBodyFrom is TextBodySpooled of an entity read from the spool its
// message was decrypted into (OpenFromSpooled), never whole in memory.
func TextBodyFrom(e *SpooledEntity, spools func() (Spool, error)) (string, []Attachment, error) {
	return textBodyFromAbove(e, spools, SpoolAbove)
}

// textBodyFromAbove is TextBodyFrom, the attachments bigger than above
// spooled.
func textBodyFromAbove(e *SpooledEntity, spools func() (Spool, error), above int64) (string, []Attachment, error) {
	lim := DefaultLimits()
	if e.Size() > lim.MaxMessageBytes {
		return "", nil, fmt.Errorf("crypto: text body: %w: %d bytes", ErrTooComplex, e.Size())
	}
	if len(e.header) > 0 {
		if _, err := parseHeader(e.header, lim.MaxHeaderFields); err != nil {
			return "", nil, fmt.Errorf("crypto: text body: %w", err)
		}
	}
	reads := &spoolReads{}
	r, err := e.openIn(reads)
	if err != nil {
		return "", nil, fmt.Errorf("crypto: text body: %w", err)
	}
	w := &textWalker{lim: lim, budget: lim.MaxDecompressedBytes, spools: spools, above: above}
	text, atts, err := textBody(r, w)
	if reads.err != nil {
		// Whatever the parser made of it, the store failed.
		w.discard()
		return "", nil, fmt.Errorf("crypto: text body: %w", reads.err)
	}
	return text, atts, err
}

// partType is what walk reads of a part's header: its media type
// (text/plain when it has none), the type's parameters, its file name
// (the disposition's, or the type's name) and whether it is inline.
func partType(h message.Header) (t string, params map[string]string, filename string, inline bool) {
	t, params, _ = h.ContentType()
	t = strings.ToLower(t)
	if t == "" {
		t = "text/plain"
	}
	disp, dparams, _ := h.ContentDisposition()
	filename = dparams["filename"]
	if filename == "" {
		filename = params["name"]
	}
	return t, params, filename, disp != "attachment" && filename == ""
}

// isAttachment reports whether walk takes a leaf part for an attachment:
// what it neither reads as text nor leaves out as a signature or key.
func isAttachment(inline bool, t, filename string) bool {
	switch {
	case inline && (t == "text/plain" || t == "text/html"):
		return false
	case t == "application/pgp-signature" || t == "application/pgp-keys" && filename == "":
		return false
	}
	return true
}

// spoolPart decodes the part p of a multipart of type parent into a
// spool, when w has spools and p is an attachment that walk will reach
// as one: not a multipart, not inside a multipart/alternative (where walk
// picks one part). spooled is false when p is to be buffered instead.
func (w *textWalker) spoolPart(p *message.Entity, parent string) (a Attachment, spooled bool, err error) {
	if w.spools == nil || parent == "multipart/alternative" {
		return a, false, nil
	}
	t, _, filename, inline := partType(p.Header)
	if strings.HasPrefix(t, "multipart/") || !isAttachment(inline, t, filename) {
		return a, false, nil
	}
	a = Attachment{Filename: filename, ContentType: t}
	if a.Data, a.Spool, err = w.spool(p); err != nil {
		return a, false, err
	}
	if w.prepared == nil {
		w.prepared = map[*message.Entity]Attachment{}
	}
	return a, true, nil
}

// spooled is walk's attachment e when it was decoded already (spoolPart),
// counted against the budget again as reading its buffer would be; or,
// with spools, e the root of the entity and an attachment, decoded now.
// ok is false when e is to be read as walk reads it.
func (w *textWalker) spooled(e *message.Entity, t, filename string, inline bool) (a Attachment, ok bool, err error) {
	if a, ok := w.prepared[e]; ok {
		delete(w.prepared, e)
		n := int64(len(a.Data))
		if a.Spool != nil {
			n = a.Spool.Size()
		}
		if n > w.budget {
			return a, true, fmt.Errorf("%w: decoded content larger than %d bytes", ErrTooComplex, w.lim.MaxDecompressedBytes)
		}
		w.budget -= n
		return a, true, nil
	}
	if _, buffered := w.buffered[e]; buffered || w.spools == nil || !isAttachment(inline, t, filename) {
		return a, false, nil
	}
	a = Attachment{Filename: filename, ContentType: t}
	a.Data, a.Spool, err = w.spool(e)
	return a, true, err
}

// spool decodes e's body, an attachment: into memory when it is at most
// w.above bytes, into a new spool otherwise, within the budget.
func (w *textWalker) spool(e *message.Entity) ([]byte, Spool, error) {
	r := io.LimitReader(e.Body, w.budget+1)
	head, err := io.ReadAll(io.LimitReader(r, w.above+1))
	if err == nil && int64(len(head)) <= w.above {
		return w.counted(head, nil)
	}
	if err != nil {
		return w.counted(head, err)
	}
	s, err := w.spools()
	if err != nil {
		return nil, nil, fmt.Errorf("attachment: %w", &spoolError{err})
	}
	w.made = append(w.made, s)
	sw := &stickyWriter{w: s}
	n, err := io.Copy(sw, io.MultiReader(bytes.NewReader(head), r))
	if sw.err != nil {
		return nil, nil, fmt.Errorf("attachment: %w", &spoolError{sw.err})
	}
	if n > w.budget {
		return nil, nil, fmt.Errorf("%w: decoded content larger than %d bytes", ErrTooComplex, w.lim.MaxDecompressedBytes)
	}
	w.budget -= n
	if err != nil && !message.IsUnknownCharset(err) && !errors.Is(err, io.ErrUnexpectedEOF) {
		return nil, nil, fmt.Errorf("%w: %v", ErrNotMIME, err)
	}
	if err := s.Close(); err != nil {
		return nil, nil, fmt.Errorf("attachment: %w", &spoolError{err})
	}
	return nil, s, nil
}

// counted is read's ending for a body b read in memory with error err.
func (w *textWalker) counted(b []byte, err error) ([]byte, Spool, error) {
	if int64(len(b)) > w.budget {
		return nil, nil, fmt.Errorf("%w: decoded content larger than %d bytes", ErrTooComplex, w.lim.MaxDecompressedBytes)
	}
	w.budget -= int64(len(b))
	if err != nil && !message.IsUnknownCharset(err) && !errors.Is(err, io.ErrUnexpectedEOF) {
		return b, nil, fmt.Errorf("%w: %v", ErrNotMIME, err)
	}
	return b, nil, nil
}

// discard lets go of the spools made, after an error.
func (w *textWalker) discard() {
	for _, s := range w.made {
		s.Discard()
	}
	w.made = nil
}
