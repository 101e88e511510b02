package crypto

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
)

// spooledLayer opens the decrypted content that res's spool holds as
// decryptLayer opens it from memory, for the forms it can read from the
// spool exactly so: signed inside the encryption (RFC 3156 §6.2) with a
// multipart root that is not itself signed or encrypted; a
// multipart/signed root (§6.1) whose signed part is a multipart; an
// unsigned multipart root whose signed parts are looked for (findSigned);
// a message/rfc822 root. handled is false for any other form (or a part
// that must be read whole), and then nothing of out or o changed.
func (o *opener) spooledLayer(out *Opened, res *pgpResult, depth int) (handled bool, err error) {
	parts := o.parts
	defer func() {
		if !handled {
			o.parts = parts // read whole: counted again
		}
	}()
	p := res.spooled
	head, err := p.head(maxStreamPart)
	if err != nil {
		return false, nil
	}
	trimmed := bytes.TrimLeft(head, " \t\r\n")
	if len(trimmed) == 0 || trimmed[0]&0x80 != 0 || bytes.HasPrefix(trimmed, beginMessage) || bytes.HasPrefix(head, []byte("\r\n")) {
		return false, nil // isEncryptedMessage would look further
	}
	i := bytes.Index(head, []byte("\r\n\r\n"))
	if i < 0 {
		return false, nil
	}
	h, bodyAt := head[:i+2], int64(i+4)
	whole := &SpooledEntity{spool: p.spool, n: p.crlf, header: h}
	inner, perr := o.parse(h, nil)
	if res.sig != nil {
		nested := perr == nil && inner.mtype == "multipart/encrypted"
		if perr == nil && !nested && (inner.mtype == "multipart/signed" ||
			!strings.HasPrefix(inner.mtype, "multipart/") && inner.mtype != "message/rfc822") {
			return false, nil // nested would read the body
		}
		res.sig.Whole = true
		out.Signature = res.sig
		if nested {
			return true, nestedError("the root of the decrypted content")
		}
		out.Spooled = whole
		return true, nil
	}
	if perr != nil {
		return true, fmt.Errorf("decrypted content: %w", perr)
	}
	if depth+1 > o.lim.MaxDepth {
		return true, fmt.Errorf("%w: nesting deeper than %d", ErrTooComplex, o.lim.MaxDepth)
	}
	switch {
	case inner.mtype == "multipart/encrypted":
		return true, nestedError("the root of the decrypted content")
	case inner.mtype == "message/rfc822":
		out.Spooled = whole // not looked into
		return true, nil
	case inner.mtype == "multipart/signed":
		if !strings.EqualFold(inner.params["protocol"], "application/pgp-signature") {
			return false, nil // nested and findSigned would split it twice
		}
		return o.fallbackOn(o.spooledSigned(out, p, inner, bodyAt, whole))
	case strings.HasPrefix(inner.mtype, "multipart/"):
		// root: the whole entity, and the first signed part below.
		sig, err := o.spooledFindSigned(p, bodyAt, p.crlf-bodyAt, inner.params, depth+2)
		if err == nil {
			out.Spooled, out.Signature = whole, sig
		}
		return o.fallbackOn(true, err)
	}
	return false, nil
}

// fallbackOn is handled, err unless err is errFallback: then the
// plaintext is to be read whole after all.
func (o *opener) fallbackOn(handled bool, err error) (bool, error) {
	if err == errFallback {
		return false, nil
	}
	return handled, err
}

// spooledFindSigned is findSigned of the multipart with params whose body
// is the size bytes at bodyAt in the spool: the parts split as in memory,
// a multipart/signed part verified from the spool, a multipart part
// looked into, a text part searched for a cleartext signature when it was
// kept whole (errFallback otherwise).
func (o *opener) spooledFindSigned(p *plainSpool, bodyAt, size int64, params map[string]string, depth int) (*Signature, error) {
	if depth > o.lim.MaxDepth {
		return nil, fmt.Errorf("%w: nesting deeper than %d", ErrTooComplex, o.lim.MaxDepth)
	}
	parts, err := p.splitRange(bodyAt, size, params["boundary"], o.lim.MaxParts-o.parts)
	if err != nil {
		return nil, err
	}
	o.parts += len(parts)
	for _, part := range parts {
		c, err := o.partHead(part)
		if err == errPartTooBig {
			return nil, errFallback
		}
		if err != nil {
			continue
		}
		var sig *Signature
		switch {
		case c.mtype == "multipart/signed" && strings.EqualFold(c.params["protocol"], "application/pgp-signature"):
			sig, err = o.spooledVerify(p, part, c)
		case strings.HasPrefix(c.mtype, "multipart/"):
			at, n := part.body()
			sig, err = o.spooledFindSigned(p, at, n, c.params, depth+1)
		case c.mtype == "text/plain":
			if int64(len(part.kept)) < part.n {
				return nil, errFallback
			}
			sig = o.clearsignedIn(c)
		}
		if err != nil {
			return nil, err
		}
		if sig != nil {
			sig.Whole = false
			return sig, nil
		}
	}
	return nil, nil
}

// spooledVerify is verifyMultipart's signature of the multipart/signed
// part c, read from the spool.
func (o *opener) spooledVerify(p *plainSpool, part spooledPart, c *entity) (*Signature, error) {
	at, n := part.body()
	parts, err := p.splitRange(at, n, c.params["boundary"], o.lim.MaxParts-o.parts)
	if err != nil {
		return nil, err
	}
	o.parts += len(parts)
	if len(parts) == 2 && int64(len(parts[1].kept)) < parts[1].n {
		return nil, errFallback
	}
	var sigRaw []byte
	if len(parts) == 2 {
		sigRaw = parts[1].kept
	}
	return o.verifySpooled(p, parts, sigRaw), nil
}

// body is where the part's body lies in the plaintext, as splitEntity
// finds it: after the blank line that ends its header (partHead made
// sure that line is kept, or the part is), or empty.
func (sp spooledPart) body() (at, n int64) {
	if bytes.HasPrefix(sp.kept, []byte("\r\n")) {
		return sp.at + 2, sp.n - 2
	}
	i := bytes.Index(sp.kept, []byte("\r\n\r\n"))
	if i < 0 {
		return sp.at + sp.n, 0
	}
	return sp.at + int64(i) + 4, sp.n - int64(i) - 4
}

// spooledSigned is root's nested check and signed of a multipart/signed
// entity e whose body starts at bodyAt in the spool: the parts found as
// splitMultipart finds them, twice (o.parts counted each time), the first
// part's header and the signature part read, the signature verified over
// the first part as the spool reads it.
func (o *opener) spooledSigned(out *Opened, p *plainSpool, e *entity, bodyAt int64, whole *SpooledEntity) (bool, error) {
	limit := o.lim.MaxParts - o.parts
	parts, splitErr := p.splitParts(bodyAt, e.params["boundary"], limit)
	if splitErr == errFallback {
		return false, nil
	}
	var se *spoolError
	if errors.As(splitErr, &se) {
		return true, splitErr
	}
	var sigPart []byte // what is kept of the signature part
	if splitErr == nil && len(parts) > 0 {
		if len(parts) > 1 {
			sigPart = parts[1].kept
		}
		// nested(e, true): the first part must be a multipart (or a
		// message/rfc822, or not parse) for its body not to matter.
		c, err := o.partHead(parts[0])
		if err == errPartTooBig {
			return false, nil
		}
		if err == nil {
			switch {
			case c.mtype == "multipart/encrypted":
				return true, nestedError("the root of the decrypted content")
			case !strings.HasPrefix(c.mtype, "multipart/") && c.mtype != "message/rfc822":
				return false, nil
			}
		}
		if len(parts) == 2 && int64(len(sigPart)) < parts[1].n {
			return false, nil // a signature part too big to keep
		}
	}
	// From here the result is decided: count what the two splits count.
	if splitErr != nil {
		return true, splitErr // verifyMultipart splits again, the same way
	}
	o.parts += len(parts)
	if len(parts) > o.lim.MaxParts-o.parts {
		return true, fmt.Errorf("%w: more than %d parts", ErrTooComplex, o.lim.MaxParts-o.parts)
	}
	o.parts += len(parts)
	sig := o.verifySpooled(p, parts, sigPart)
	out.Signature = sig
	if sig.Whole {
		out.Spooled = &SpooledEntity{spool: p.spool, off: bodyAt + parts[0].off, n: parts[0].n, header: firstHeader(parts[0].kept)}
		return true, nil
	}
	out.Spooled = whole
	return true, nil
}

// verifySpooled is verifyMultipart's signature of the parts: Whole when the
// structure is right and the signature part was read.
func (o *opener) verifySpooled(p *plainSpool, parts []spooledPart, sigRaw []byte) *Signature {
	if len(parts) != 2 {
		return &Signature{Err: fmt.Errorf("%w: multipart/signed has %d parts, want 2", ErrBadSignature, len(parts))}
	}
	sigPart, err := o.parsePart(sigRaw)
	if err != nil {
		return &Signature{Err: fmt.Errorf("%w: signature part: %v", ErrBadSignature, err)}
	}
	if sigPart.mtype != "application/pgp-signature" {
		return &Signature{Err: fmt.Errorf("%w: second part is %s, want application/pgp-signature", ErrBadSignature, sigPart.mtype)}
	}
	armored, err := decodeBody(sigPart)
	if err != nil {
		return &Signature{Err: fmt.Errorf("%w: signature part: %v", ErrBadSignature, err)}
	}
	bin, err := dearmor(armored, "PGP SIGNATURE")
	if err != nil {
		return &Signature{Err: fmt.Errorf("%w: %v", ErrBadSignature, err)}
	}
	first := &SpooledEntity{spool: p.spool, off: parts[0].at, n: parts[0].n}
	// A failure reading it back is the spool's (p.reads), not a bad
	// signature: decryptLayer asks p.reads once the layer is read.
	open := func() (io.Reader, error) { return first.openIn(&p.reads) }
	sig, sp := verifyDetachedFrom(open, bin, o.opts.Verifiers, o.opts.Now)
	checkIntended(sig, sp, o.opts.Decrypt)
	sig.Whole = true
	return sig
}

// firstHeader is the header section of a part whose first bytes are kept:
// what splitEntity takes for its header.
func firstHeader(kept []byte) []byte {
	h, _ := splitEntity(kept)
	return h
}

var errPartTooBig = errors.New("part header past what is kept")

// partHead parses the header of a part as parsePart does, from what is
// kept of it: errPartTooBig when that is not enough to know.
func (o *opener) partHead(sp spooledPart) (*entity, error) {
	if int64(len(sp.kept)) == sp.n {
		return o.parsePart(sp.kept)
	}
	if bytes.HasPrefix(sp.kept, []byte("\r\n")) || !bytes.Contains(sp.kept, []byte("\r\n\r\n")) {
		return nil, errPartTooBig
	}
	h, _ := splitEntity(sp.kept)
	return o.parse(h, nil)
}

// head returns the first n bytes of the plaintext in CRLF form.
func (p *plainSpool) head(n int) ([]byte, error) {
	r, err := p.crlfReader()
	if err != nil {
		return nil, err
	}
	b := make([]byte, min(int64(n), p.crlf))
	if _, err = io.ReadFull(r, b); err != nil {
		return nil, p.reads.fail(err)
	}
	return b, nil
}

func (p *plainSpool) crlfReader() (io.Reader, error) {
	r, err := p.reads.open(p.spool)
	if err != nil {
		return nil, err
	}
	return &crlfReader{r: r, reads: &streamReads{}}, nil
}

// spooledPart is one part of a multipart in a spool: where it starts in
// the body (off) and in the plaintext (at), its length, its first bytes.
type spooledPart struct {
	off, at, n int64
	kept       []byte
}

// splitParts is splitMultipart of the body that starts at bodyAt in the
// plaintext (in CRLF form) and runs to its end (splitRange).
func (p *plainSpool) splitParts(bodyAt int64, boundary string, maxParts int) ([]spooledPart, error) {
	return p.splitRange(bodyAt, p.crlf-bodyAt, boundary, maxParts)
}

// maxKept bounds what splitRange keeps of all the parts together.
const maxKept = 1 << 20

// splitRange is splitMultipart of the size bytes at bodyAt in the
// plaintext (in CRLF form), read from the spool line by line: the same
// parts, or the same error. Of each part it keeps the first maxStreamPart
// bytes, within maxKept for them all. errFallback: a line too long to be
// sure of.
func (p *plainSpool) splitRange(bodyAt, size int64, boundary string, maxParts int) ([]spooledPart, error) {
	if boundary == "" || len(boundary) > 200 {
		return nil, fmt.Errorf("%w: invalid multipart boundary", ErrNotMIME)
	}
	r, err := p.crlfReader()
	if err != nil {
		return nil, err
	}
	if _, err := io.CopyN(io.Discard, r, bodyAt); err != nil {
		return nil, p.reads.fail(err)
	}
	s := &partSplit{delim: []byte("--" + boundary), start: -1, bodyAt: bodyAt, size: size, maxParts: maxParts}
	br := bufio.NewReaderSize(io.LimitReader(r, size), 64<<10)
	var pos, lineStart int64
	long := false
	for {
		frag, err := br.ReadSlice('\n')
		if err != nil && !errors.Is(err, bufio.ErrBufferFull) && !errors.Is(err, io.EOF) {
			return nil, p.reads.fail(err)
		}
		s.keep(pos, frag)
		if !long {
			lineStart = pos
			// Only a line's start makes it a delimiter; one too long
			// to hold is left to the reading in memory.
			if errors.Is(err, bufio.ErrBufferFull) && bytes.HasPrefix(frag, s.delim) {
				return nil, errFallback
			}
		}
		pos += int64(len(frag))
		if errors.Is(err, bufio.ErrBufferFull) {
			long, s.lastNL = true, false
			continue
		}
		end := errors.Is(err, io.EOF)
		if end && pos != s.size {
			return nil, p.reads.fail(fmt.Errorf("plaintext of %d bytes read as %d", s.size, pos))
		}
		if !long {
			done, serr := s.line(lineStart, frag, !end)
			if serr != nil || done {
				return s.parts, serr
			}
		}
		long = false
		if end {
			s.endsCRLF = len(frag) == 0 && pos >= 2 && s.lastNL
			return s.finish()
		}
		s.lastNL = true
	}
}

var errFallback = errors.New("read it whole")

// partSplit follows splitMultipart over the lines of a body.
type partSplit struct {
	delim    []byte
	start    int64 // of the current part in the body, -1 in the preamble
	bodyAt   int64
	size     int64 // the body's length
	maxParts int
	parts    []spooledPart
	kept     []byte // the first bytes of the current part
	keptAll  int    // bytes kept of all the parts
	lastNL   bool   // a line ended before the end of the body
	endsCRLF bool   // the body ends with CRLF
}

// keep keeps the bytes at pos of the current part, as they are read.
func (s *partSplit) keep(pos int64, frag []byte) {
	if s.start < 0 || pos+int64(len(frag)) <= s.start {
		return
	}
	if pos < s.start {
		frag = frag[s.start-pos:]
	}
	if room := min(maxStreamPart-len(s.kept), maxKept-s.keptAll); room > 0 {
		k := min(room, len(frag))
		s.kept = append(s.kept, frag[:k]...)
		s.keptAll += k
	}
}

// line takes the line at pos, with its CRLF when crlf; done when the
// close delimiter ended the parts.
func (s *partSplit) line(pos int64, full []byte, crlf bool) (done bool, err error) {
	line, next := full, s.size+1
	if crlf {
		line, next = full[:len(full)-2], pos+int64(len(full))
	}
	if !bytes.HasPrefix(line, s.delim) {
		return false, nil
	}
	rest := line[len(s.delim):]
	closing := bytes.HasPrefix(rest, []byte("--"))
	if closing {
		rest = rest[2:]
	}
	if len(bytes.TrimRight(rest, " \t")) != 0 {
		return false, nil
	}
	if s.start >= 0 {
		if err := s.add(max(pos-2, s.start)); err != nil {
			return true, err
		}
	}
	if closing {
		return true, nil
	}
	s.start = min(next, s.size)
	s.kept = nil
	return false, nil
}

// add ends the current part at end.
func (s *partSplit) add(end int64) error {
	sp := spooledPart{off: s.start, at: s.bodyAt + s.start, n: end - s.start}
	sp.kept = s.kept[:min(int64(len(s.kept)), sp.n)]
	s.kept = nil
	s.parts = append(s.parts, sp)
	if len(s.parts) > s.maxParts {
		return fmt.Errorf("%w: more than %d parts", ErrTooComplex, s.maxParts)
	}
	return nil
}

// finish ends a body without a close delimiter: the last part runs to
// its end, less a last CRLF.
func (s *partSplit) finish() ([]spooledPart, error) {
	if s.start < 0 {
		return nil, fmt.Errorf("%w: multipart body has no delimiter for boundary %q", ErrNotMIME, string(s.delim[2:]))
	}
	end := s.size
	if s.endsCRLF && end-s.start >= 2 {
		end -= 2
	}
	if err := s.add(end); err != nil {
		return nil, err
	}
	return s.parts, nil
}
