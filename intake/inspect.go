package intake

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
	"mime"
	"regexp"
	"strings"

	"github.com/emersion/go-message"
	_ "github.com/emersion/go-message/charset" // decoders for non-UTF-8 charsets
	"github.com/emersion/go-message/mail"
	"github.com/emersion/go-message/textproto"
)

// Limits bound the structure of a message that intake accepts.
type Limits struct {
	MaxSize        int64
	MaxDepth       int
	MaxParts       int
	MaxAttachments int
}

func (c Config) limits() Limits {
	return Limits{MaxSize: c.MaxSize, MaxDepth: c.MaxDepth, MaxParts: c.MaxParts, MaxAttachments: c.MaxAttachments}
}

// maxHeaderBytes bounds the header of a message and of each part.
const maxHeaderBytes = 256 << 10

// Inspection is what can be read from a raw message without any key or
// database: the header fields that classification uses and the MIME
// structure.
type Inspection struct {
	MessageID  string
	From       string // lower-case address of the first From mailbox
	FromName   string
	ReturnPath string // "<>" kept as "<>"; address otherwise
	Subject    string
	InReplyTo  []string
	References []string
	CaseTags   []string // SEC-YYYY-NNNN found in the subject

	AutoSubmitted string
	Precedence    string
	ListID        string // the list's id from List-Id, lower case, without angle brackets
	ListHeaders   bool   // List-Id, List-Unsubscribe or List-Post is present
	Autocrypt     string // keydata (base64) of an Autocrypt header for From
	Loop          bool   // carries our own loop header
	Received      int    // number of Received fields

	ContentType string
	ReportType  string // report-type of a multipart/report

	Depth       int
	Parts       int
	Attachments int
	KeyAttached bool // an application/pgp-keys part or a .asc key attachment
	Encrypted   bool // multipart/encrypted or an inline PGP MESSAGE block
	Signed      bool // multipart/signed or an inline signed block
	BadCharset  bool // some part named a charset we cannot decode
	// CipherHash is the SHA-256 of the first OpenPGP message's payload
	// (armor headers, whitespace and checksum removed), nil when there is
	// none: the same ciphertext re-sent in another mail has the same hash.
	CipherHash []byte
	Malformed  string
}

// LoopHeader is the header field secgate puts on every message it sends;
// mail carrying it is our own coming back.
const LoopHeader = "X-Secgate-Loop"

var caseTag = regexp.MustCompile(`\[(SEC-[0-9]{4}-[0-9]{4,})\]`)

// ErrLimit is wrapped by Inspect errors that name an exceeded limit.
var ErrLimit = errors.New("limit exceeded")

// Inspect parses raw and checks it against lim. A malformed message is not
// an error: Malformed says why. The error is non-nil only when a limit is
// exceeded (it wraps ErrLimit); the inspection is then partial but its
// header fields are filled.
func Inspect(raw []byte, lim Limits) (*Inspection, error) {
	in := &Inspection{}
	if lim.MaxSize > 0 && int64(len(raw)) > lim.MaxSize {
		in.readHeader(raw)
		return in, fmt.Errorf("%w: message is %d bytes, the limit is %d", ErrLimit, len(raw), lim.MaxSize)
	}
	if !in.readHeader(raw) {
		return in, nil
	}
	e, err := message.ReadWithOptions(bytes.NewReader(raw), &message.ReadOptions{MaxHeaderBytes: maxHeaderBytes})
	if err != nil && !message.IsUnknownCharset(err) {
		in.Malformed = Printable(err.Error())
		return in, nil
	}
	if err != nil {
		in.BadCharset = true
	}
	return in, in.walk(e, "", 1, lim)
}

// readHeader fills the header fields; it reports false when the header does
// not parse.
func (in *Inspection) readHeader(raw []byte) bool {
	th, err := textproto.ReadHeader(bufio.NewReader(io.LimitReader(bytes.NewReader(raw), maxHeaderBytes)))
	if err != nil {
		in.Malformed = "header: " + Printable(err.Error())
		if th.Len() == 0 {
			return false
		}
	}
	h := mail.Header{Header: message.Header{Header: th}}
	in.MessageID, _ = h.MessageID()
	if list, err := h.AddressList("From"); err == nil && len(list) > 0 {
		in.From = strings.ToLower(list[0].Address)
		in.FromName = list[0].Name
	} else if f := h.Get("From"); f != "" {
		// Unparsable (raw 8-bit name, say): take the angle address if any.
		if i := strings.LastIndexByte(f, '<'); i >= 0 {
			f = f[i+1:]
			if j := strings.IndexByte(f, '>'); j >= 0 {
				f = f[:j]
			}
		}
		// Keep it only as the address it parses to: that is where an
		// answer would go ("a@ b" is a@b), never a string that is not one.
		if a, err := mail.ParseAddress(strings.Trim(strings.TrimSpace(f), "<>")); err == nil {
			in.From = strings.ToLower(a.Address)
		}
	}
	if rp := strings.TrimSpace(h.Get("Return-Path")); rp != "" {
		if rp == "<>" {
			in.ReturnPath = "<>"
		} else {
			in.ReturnPath = strings.ToLower(strings.Trim(rp, "<>"))
		}
	}
	in.Subject, err = h.Subject()
	if err != nil {
		in.Subject = h.Get("Subject")
	}
	in.InReplyTo, _ = h.MsgIDList("In-Reply-To")
	in.References, _ = h.MsgIDList("References")
	for _, m := range caseTag.FindAllStringSubmatch(in.Subject, 4) {
		in.CaseTags = append(in.CaseTags, m[1])
	}
	in.AutoSubmitted = strings.ToLower(strings.TrimSpace(h.Get("Auto-Submitted")))
	in.Precedence = strings.ToLower(strings.TrimSpace(h.Get("Precedence")))
	in.ListID = listID(h.Get("List-Id"))
	in.ListHeaders = h.Has("List-Id") || h.Has("List-Unsubscribe") || h.Has("List-Post")
	in.Loop = h.Has(LoopHeader)
	in.Received = len(h.Values("Received"))
	for _, v := range h.Values("Autocrypt") {
		if kd, ok := autocryptKey(v, in.From); ok {
			in.Autocrypt = kd
		}
	}
	if ct := h.Get("Content-Type"); ct != "" {
		t, params, err := mime.ParseMediaType(ct)
		if err == nil {
			in.ContentType = strings.ToLower(t)
			in.ReportType = strings.ToLower(params["report-type"])
		}
	}
	if in.ContentType == "" {
		in.ContentType = "text/plain"
	}
	return true
}

// autocryptKey returns the keydata of an Autocrypt header value when its
// addr matches from.
func autocryptKey(v, from string) (string, bool) {
	var addr, keydata string
	for _, attr := range strings.Split(v, ";") {
		k, val, ok := strings.Cut(strings.TrimSpace(attr), "=")
		if !ok {
			continue
		}
		switch strings.ToLower(k) {
		case "addr":
			addr = strings.ToLower(strings.TrimSpace(val))
		case "keydata":
			keydata = strings.Join(strings.Fields(val), "")
		}
	}
	return keydata, keydata != "" && addr != "" && addr == from
}

var (
	pgpMessage = []byte("-----BEGIN PGP MESSAGE-----")
	pgpSigned  = []byte("-----BEGIN PGP SIGNED MESSAGE-----")
	pgpKey     = []byte("-----BEGIN PGP PUBLIC KEY BLOCK-----")
)

func (in *Inspection) walk(e *message.Entity, parent string, depth int, lim Limits) error {
	in.Parts++
	in.Depth = max(in.Depth, depth)
	if lim.MaxDepth > 0 && depth > lim.MaxDepth {
		return fmt.Errorf("%w: MIME nesting deeper than %d", ErrLimit, lim.MaxDepth)
	}
	if lim.MaxParts > 0 && in.Parts > lim.MaxParts {
		return fmt.Errorf("%w: more than %d MIME parts", ErrLimit, lim.MaxParts)
	}
	t, params, err := e.Header.ContentType()
	if err != nil {
		t = "text/plain"
	}
	t = strings.ToLower(t)
	switch t {
	case "multipart/encrypted":
		in.Encrypted = true
	case "multipart/signed":
		in.Signed = true
	case "application/pgp-keys":
		in.KeyAttached = true
	}
	disp, dparams, _ := e.Header.ContentDisposition()
	pgpPart := parent == "multipart/encrypted" || t == "application/pgp-signature" || t == "application/pgp-encrypted"
	if depth > 1 && !pgpPart && !strings.HasPrefix(t, "multipart/") &&
		(strings.EqualFold(disp, "attachment") || dparams["filename"] != "" || params["name"] != "" || t == "message/rfc822") {
		in.Attachments++
		if lim.MaxAttachments > 0 && in.Attachments > lim.MaxAttachments {
			return fmt.Errorf("%w: more than %d attachments", ErrLimit, lim.MaxAttachments)
		}
	}
	if mr := e.MultipartReader(); mr != nil {
		for {
			p, err := mr.NextPart()
			if err == io.EOF {
				return nil
			}
			if err != nil {
				if message.IsUnknownCharset(err) && p != nil {
					in.BadCharset = true
				} else {
					if in.Malformed == "" {
						in.Malformed = "multipart: " + Printable(err.Error())
					}
					return nil
				}
			}
			if err := in.walk(p, t, depth+1, lim); err != nil {
				return err
			}
		}
	}
	if t == "message/rfc822" {
		return nil // stored opaque, never unpacked
	}
	maxBody := lim.MaxSize
	if maxBody <= 0 {
		maxBody = DefaultConfig().MaxSize
	}
	// The body is read line by line, never held whole: the markers
	// have no line break in them, and the hash takes the lines in turn.
	sc := bufio.NewScanner(io.LimitReader(e.Body, maxBody+1))
	sc.Buffer(make([]byte, 0, 64<<10), int(maxBody)+1)
	var ch cipherHasher
	for sc.Scan() {
		l := sc.Bytes()
		if bytes.Contains(l, pgpMessage) {
			in.Encrypted = true
		}
		if bytes.Contains(l, pgpSigned) {
			in.Signed = true
		}
		if bytes.Contains(l, pgpKey) {
			in.KeyAttached = true
		}
		if in.CipherHash == nil {
			ch.line(l)
		}
	}
	if err := sc.Err(); err != nil {
		if in.Malformed == "" {
			in.Malformed = "body: " + Printable(err.Error())
		}
		return nil
	}
	if in.CipherHash == nil {
		in.CipherHash = ch.sum()
	}
	return nil
}

// cipherHash hashes the payload of the first armored PGP MESSAGE in body.
func cipherHash(body []byte) []byte {
	var ch cipherHasher
	for len(body) > 0 {
		l, rest, _ := bytes.Cut(body, []byte("\n"))
		ch.line(l)
		body = rest
	}
	return ch.sum()
}

// cipherHasher hashes the payload of the first armored PGP MESSAGE in the
// lines given to it: armor headers, whitespace, line breaks and the
// checksum left out, so that the same ciphertext armored again hashes the
// same.
type cipherHasher struct {
	h     hash.Hash // nil until the BEGIN line
	state int
}

const (
	hashBefore = iota
	hashHeaders
	hashPayload
	hashDone
)

var pgpMessageEnd = []byte("-----END PGP MESSAGE-----")

// line takes the next line, without its LF.
func (c *cipherHasher) line(l []byte) {
	switch c.state {
	case hashDone:
		return
	case hashBefore:
		i := bytes.Index(l, pgpMessage)
		if i < 0 {
			return
		}
		c.h, c.state = sha256.New(), hashHeaders
		// The rest of the BEGIN line is not the end of the headers.
		if bytes.Contains(l[i+len(pgpMessage):], pgpMessageEnd) {
			c.state = hashDone
		}
		return
	}
	end := bytes.Index(l, pgpMessageEnd)
	if end >= 0 {
		l = l[:end]
	}
	if bytes.IndexByte(l, '\r') >= 0 {
		l = bytes.ReplaceAll(l, []byte("\r"), nil)
	}
	l = bytes.TrimSpace(l)
	switch {
	case c.state == hashHeaders && len(l) == 0:
		c.state = hashPayload // armor headers end at the first blank line
	case c.state == hashHeaders && bytes.IndexByte(l, ':') >= 0:
		// An armor header ("Comment: x", or "Comment:" with nothing
		// after it); base64 has no colon.
	case c.state == hashPayload && len(l) == 5 && l[0] == '=':
		// the checksum
	default:
		c.state = hashPayload
		c.h.Write(l)
	}
	if end >= 0 {
		c.state = hashDone
	}
}

// sum is the hash, nil when there was no PGP MESSAGE.
func (c *cipherHasher) sum() []byte {
	if c.h == nil {
		return nil
	}
	return c.h.Sum(nil)
}

// listID returns the list identifier of a List-Id field (RFC 2919): the
// part in angle brackets, lower case; the whole value when it has none.
func listID(v string) string {
	v = strings.TrimSpace(v)
	if i := strings.LastIndexByte(v, '<'); i >= 0 {
		if j := strings.IndexByte(v[i:], '>'); j > 0 {
			v = v[i+1 : i+j]
		}
	}
	return strings.ToLower(strings.TrimSpace(v))
}
