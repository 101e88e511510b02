package crypto

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/ProtonMail/go-crypto/openpgp/armor"
)

// OpenFrom is Open of the message that stream returns, a reader of it from
// its start each time it is called, for a big PGP/MIME message: it reads
// the message as it decrypts it (once to learn its structure, then as
// Open reads its OpenPGP message: the session-key scan, the decryption),
// so that the message is never whole in memory, only its plaintext.
//
// It takes only the form most big reports come in, which it can read
// exactly as Open does: a multipart/encrypted root of two parts, the
// control part and an ASCII-armored data part without a transfer
// encoding, in lines of at most 96 characters. For any other message, and
// when stream fails, handled is false and nothing was decided: call Open
// on the whole message. When handled, the result and the error are what
// Open returns for the message.
func OpenFrom(stream func() (io.Reader, error), opts OpenOptions) (out *Opened, handled bool, err error) {
	return openFrom(stream, opts, nil, 0)
}

// openFrom is OpenFrom, a plaintext of more than above bytes decrypted
// into a spool that spools makes when it is set (OpenFromSpooled).
func openFrom(stream func() (io.Reader, error), opts OpenOptions, spools func() (Spool, error), above int) (out *Opened, handled bool, err error) {
	o := newOpener(opts)
	reads := &streamReads{open: stream}
	layout, ok := o.scanEncrypted(reads)
	if !ok || reads.err != nil {
		return nil, false, nil
	}
	if layout.size > o.lim.MaxMessageBytes {
		return nil, true, fmt.Errorf("crypto: open: %w: message of %d bytes", ErrTooComplex, layout.size)
	}
	o.parts = 2
	src := pgpSource{open: func() (io.Reader, error) { return layout.armored(reads) }, size: int(layout.armorLen / 4 * 3), spools: spools, above: above}
	if _, err := src.open(); err != nil {
		return nil, false, nil // Open says what is wrong with the armor
	}
	out = &Opened{}
	err = o.decryptLayer(out, src, 0)
	if reads.err != nil {
		// The stored message could not be read again: nothing decided.
		out.discard()
		return nil, false, nil
	}
	if err != nil {
		out.discard()
	}
	out, err = o.result(out, err)
	return out, true, err
}

// streamReads opens the message's stream and keeps the first error
// reading it, so that a failed read is never taken for the message's end.
type streamReads struct {
	open func() (io.Reader, error)
	err  error
}

func (s *streamReads) reader() (*crlfReader, error) {
	r, err := s.open()
	if err != nil {
		s.err = err
		return nil, err
	}
	return &crlfReader{r: r, reads: s}, nil
}

// crlfReader reads a message with every bare LF turned into CRLF, as
// canonCRLF does; n counts the bytes read from the message itself.
type crlfReader struct {
	r     io.Reader
	reads *streamReads
	prev  byte   // the last byte read from r
	in    []byte // what was read from r
	buf   []byte // it in CRLF form
	out   []byte // what of buf is still to be returned
	n     int64
	err   error
}

func (c *crlfReader) Read(p []byte) (int, error) {
	for len(c.out) == 0 {
		if c.err != nil {
			return 0, c.err
		}
		if c.in == nil {
			c.in, c.buf = make([]byte, 32<<10), make([]byte, 0, 64<<10)
		}
		n, err := c.r.Read(c.in)
		c.n += int64(n)
		out := c.buf[:0]
		for _, b := range c.in[:n] {
			if b == '\n' && c.prev != '\r' {
				out = append(out, '\r')
			}
			out = append(out, b)
			c.prev = b
		}
		c.out = out
		if err != nil {
			if err != io.EOF && c.reads.err == nil {
				c.reads.err = err
			}
			c.err = err
		}
	}
	n := copy(p, c.out)
	c.out = c.out[n:]
	return n, nil
}

// encryptedLayout is where the armored OpenPGP message of a streamed
// PGP/MIME message lies: armorLen bytes from offset armorAt of the
// message in CRLF form. size is the message's length as stored.
type encryptedLayout struct {
	armorAt, armorLen int64
	size              int64
}

// armored returns a reader of the armored message's body, decoded.
func (l encryptedLayout) armored(reads *streamReads) (io.Reader, error) {
	r, err := reads.reader()
	if err != nil {
		return nil, err
	}
	if _, err := io.CopyN(io.Discard, r, l.armorAt); err != nil {
		return nil, fmt.Errorf("armor: %v", err)
	}
	block, err := armor.Decode(io.LimitReader(r, l.armorLen))
	if err != nil {
		return nil, fmt.Errorf("armor: %v", err)
	}
	if block.Type != "PGP MESSAGE" {
		return nil, fmt.Errorf("armor: got %q, want %q", block.Type, "PGP MESSAGE")
	}
	return block.Body, nil
}

// Bounds of what scanEncrypted holds of a streamed message: its header,
// the control part, the data part's header.
const (
	maxStreamHeader = 256 << 10
	maxStreamPart   = 64 << 10
)

// scanEncrypted reads the message once and finds its armored OpenPGP
// message, the way Open's root, encrypted, splitMultipart, decodeBody and
// armoredSource would find it in the whole message. ok is false when the
// message is not of the one form OpenFrom takes (or when it does not
// know for sure that Open would read it so).
func (o *opener) scanEncrypted(reads *streamReads) (encryptedLayout, bool) {
	cr, err := reads.reader()
	if err != nil {
		return encryptedLayout{}, false
	}
	r := bufio.NewReaderSize(cr, 64<<10)
	sc := &lineScanner{r: r}
	// The header: up to the first empty line (splitEntity).
	var head []byte
	for {
		line, long, err := sc.next()
		if err != nil || long || len(head)+len(line) > maxStreamHeader {
			return encryptedLayout{}, false
		}
		if string(line) == "\r\n" {
			break
		}
		head = append(head, line...)
	}
	if len(head) == 0 {
		return encryptedLayout{}, false
	}
	e, err := o.parse(head, nil)
	if err != nil || e.mtype != "multipart/encrypted" || !strings.EqualFold(e.params["protocol"], "application/pgp-encrypted") {
		return encryptedLayout{}, false
	}
	boundary := e.params["boundary"]
	if boundary == "" || len(boundary) > 200 || o.lim.MaxParts < 2 {
		return encryptedLayout{}, false
	}
	mp := &partScanner{delim: []byte("--" + boundary), start: -1}
	for !mp.closed {
		line, long, err := sc.next()
		if errors.Is(err, io.EOF) && len(line) == 0 {
			break
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return encryptedLayout{}, false
		}
		if !mp.line(sc.off-int64(len(line)), line, long) {
			return encryptedLayout{}, false
		}
		if err != nil {
			break
		}
	}
	if _, err := io.Copy(io.Discard, r); err != nil || reads.err != nil {
		return encryptedLayout{}, false
	}
	layout, ok := mp.finish(o)
	layout.size = cr.n
	return layout, ok
}

// lineScanner reads CRLF lines (the last one perhaps without its line
// end), keeping its offset; a line longer than the reader's buffer comes
// in pieces, each but the last with long set.
type lineScanner struct {
	r   *bufio.Reader
	off int64
}

func (s *lineScanner) next() (line []byte, long bool, err error) {
	line, err = s.r.ReadSlice('\n')
	s.off += int64(len(line))
	if errors.Is(err, bufio.ErrBufferFull) {
		return line, true, nil
	}
	return line, false, err
}

// partScanner follows the body of a multipart/encrypted line by line as
// splitMultipart reads it, keeping the control part whole and what it
// needs of the data part: its header, where its body's non-blank bytes
// start and end.
type partScanner struct {
	delim  []byte
	start  int64 // offset of the current part, -1 in the preamble
	parts  int   // parts ended
	closed bool
	cont   bool // the line read last goes on (a long line)

	ctl      []byte // the lines of the control part
	ctlStart int64
	ctlEnd   int64
	data     dataPart
}

// dataPart is what is known of the data part as it is read.
type dataPart struct {
	head     []byte // its header, while not inBody
	inBody   bool
	first    int64 // offset of its first non-blank body byte, -1 before
	firstOK  bool  // the body starts "-----BEGIN " there
	last     int64 // offset of its last non-blank body byte
	lastByte byte
	tooLong  bool // a body line is longer than maxArmorLine
}

// line takes the line (or piece of a long one) at offset off; false: not
// a form OpenFrom takes.
func (p *partScanner) line(off int64, line []byte, long bool) bool {
	wasCont := p.cont
	p.cont = long
	if !wasCont && bytes.HasPrefix(line, p.delim) {
		rest := bytes.TrimSuffix(line[len(p.delim):], []byte("\r\n"))
		closing := bytes.HasPrefix(rest, []byte("--"))
		if closing {
			rest = rest[2:]
		}
		if len(bytes.TrimRight(rest, " \t")) == 0 {
			if long {
				return false // a delimiter line too long to be sure of
			}
			if p.start >= 0 {
				if p.parts == 0 {
					p.ctlEnd = max(off-2, p.start) // the CRLF before belongs to the delimiter
				}
				p.parts++
				if p.parts >= 2 && !closing {
					return false // a third part
				}
			}
			p.closed = closing
			p.start = off + int64(len(line))
			switch p.parts {
			case 0:
				p.ctlStart = p.start
			case 1:
				p.data.first = -1
			}
			return true
		}
	}
	switch {
	case p.start < 0:
		return true // the preamble
	case p.parts == 0:
		if len(p.ctl)+len(line) > maxStreamPart {
			return false
		}
		p.ctl = append(p.ctl, line...)
		return true
	}
	return p.data.line(off, line, long, wasCont)
}

func (d *dataPart) line(off int64, line []byte, long, cont bool) bool {
	if !d.inBody {
		if long || len(d.head)+len(line) > maxStreamPart {
			return false
		}
		if string(line) == "\r\n" {
			// A part without a header is left to Open.
			d.inBody = true
			return len(d.head) > 0
		}
		d.head = append(d.head, line...)
		return true
	}
	if long || cont || len(bytes.TrimSuffix(line, []byte("\r\n"))) > maxArmorLine {
		d.tooLong = true
	}
	for i, c := range line {
		if asciiSpace(c) {
			continue
		}
		if d.first < 0 {
			d.first = off + int64(i)
			d.firstOK = i == 0 && !cont && bytes.HasPrefix(line, []byte("-----BEGIN "))
		}
		d.last, d.lastByte = off+int64(i), c
	}
	return true
}

func asciiSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f'
}

// finish checks the parts once the body ended and says where the armored
// message lies.
func (p *partScanner) finish(o *opener) (encryptedLayout, bool) {
	if !p.closed && p.start >= 0 {
		p.parts++ // no close delimiter: the last part runs to the end
	}
	d := p.data
	if p.parts != 2 || d.tooLong || !d.inBody || d.first < 0 || !d.firstOK || d.lastByte >= 0x80 {
		return encryptedLayout{}, false
	}
	ctl, err := o.parsePart(p.ctl[:p.ctlEnd-p.ctlStart])
	if err != nil || ctl.mtype != "application/pgp-encrypted" {
		return encryptedLayout{}, false
	}
	data, err := o.parse(d.head, nil)
	if err != nil {
		return encryptedLayout{}, false
	}
	switch strings.ToLower(strings.TrimSpace(data.header.Get("Content-Transfer-Encoding"))) {
	case "base64", "quoted-printable":
		return encryptedLayout{}, false
	}
	return encryptedLayout{armorAt: d.first, armorLen: d.last + 1 - d.first}, true
}
