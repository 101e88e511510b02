package intake

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
	"regexp"
	"strings"

	"github.com/emersion/go-message"
	_ "github.com/emersion/go-message/charset" // decoders for non-UTF-8 charsets
	"github.com/emersion/go-message/mail"
	"github.com/emersion/go-message/textproto"

	"github.com/secgate/secgate/distlist"
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
	From       string // the first From mailbox's address (addrSpec form), "" when none parses
	FromName   string
	FromFields int    // number of From header fields: anything but 1 is malformed (RFC 5322 §3.6)
	ReturnPath string // "<>" kept as "<>"; address otherwise
	Subject    string
	InReplyTo  []string
	References []string
	CaseTags   []string // PREFIX-YYYY-NNNN found in the subject

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
	Malformed   string
}

// LoopHeader is the header field secgate puts on every message it sends;
// mail carrying it is our own coming back.
const LoopHeader = "X-Secgate-Loop"

// caseTag is a case reference of any project's prefix tagged in a
// subject, [PREFIX-YYYY-NNNN]: the lookup in the gateway's own database
// decides which names a case (threadCase), and that keeps routing strict.
// The database holds this project's cases alone, so a tag of another
// project's ([KATA-2026-0001] at Knative's gateway) or an ID of the same
// shape ([CVE-2026-12345]) finds nothing; the cases opened under an
// earlier prefix of this project ([SEC-...] before it chose KN) are found,
// which a pattern of the configured prefix alone would lose.
var caseTag = regexp.MustCompile(`\[([A-Z][A-Z0-9]{1,9}-[0-9]{4}-[0-9]{4,})\]`)

// caseTags returns the case references tagged in a subject
// ([PREFIX-YYYY-NNNN]), at most four.
func caseTags(subject string) []string {
	var tags []string
	for _, m := range caseTag.FindAllStringSubmatch(subject, 4) {
		tags = append(tags, m[1])
	}
	return tags
}

// ErrLimit is wrapped by Inspect errors that name an exceeded limit.
var ErrLimit = errors.New("limit exceeded")

// Inspect parses raw and checks it against lim. A malformed message is not
// an error: Malformed says why. The error is non-nil only when a limit is
// exceeded (it wraps ErrLimit); the inspection is then partial but its
// header fields are filled.
func Inspect(raw []byte, lim Limits) (*Inspection, error) {
	if lim.MaxSize > 0 && int64(len(raw)) > lim.MaxSize {
		return inspectTooBig(bytes.NewReader(raw), int64(len(raw)), lim)
	}
	return inspect(bytes.NewReader(raw), bytes.NewReader(raw), lim)
}

// inspectTooBig is the inspection of a message of size bytes over
// lim.MaxSize, whose header h reads: its header fields and the error.
func inspectTooBig(h io.Reader, size int64, lim Limits) (*Inspection, error) {
	in := &Inspection{}
	in.readHeader(h)
	return in, fmt.Errorf("%w: message is %d bytes, the limit is %d", ErrLimit, size, lim.MaxSize)
}

// inspect is Inspect of a message within the size limit, which h and r
// each read from its start: h its header, r the whole.
func inspect(h, r io.Reader, lim Limits) (*Inspection, error) {
	in := &Inspection{}
	if !in.readHeader(h) {
		return in, nil
	}
	e, err := message.ReadWithOptions(r, &message.ReadOptions{MaxHeaderBytes: maxHeaderBytes})
	if err != nil && !message.IsUnknownCharset(err) {
		in.Malformed = Printable(err.Error())
		return in, nil
	}
	if err != nil {
		in.BadCharset = true
	}
	return in, in.walk(e, "", 1, lim)
}

// readHeader fills the header fields of the message r reads; it reports
// false when the header does not parse.
func (in *Inspection) readHeader(r io.Reader) bool {
	th, err := textproto.ReadHeader(bufio.NewReader(io.LimitReader(r, maxHeaderBytes)))
	if err != nil {
		in.Malformed = "header: " + Printable(err.Error())
		if th.Len() == 0 {
			return false
		}
	}
	h := mail.Header{Header: message.Header{Header: th}}
	in.MessageID, _ = h.MessageID()
	in.FromFields = len(h.Values("From"))
	if list, err := h.AddressList("From"); err == nil && len(list) > 0 {
		in.From = addrSpec(list[0].Address)
		in.FromName = list[0].Name
	} else if f := strings.TrimSpace(h.Get("From")); strings.HasSuffix(f, ">") {
		// Unparsable (raw 8-bit name, say): take the angle address that
		// ends the field, and only as the address it parses to: that is
		// where an answer would go. "<a@b>@evil.example" names no
		// address at all and yields none.
		if i := strings.LastIndexByte(f, '<'); i >= 0 {
			if a, err := mail.ParseAddress(f[i:]); err == nil {
				in.From = addrSpec(a.Address)
			}
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
	in.CaseTags = caseTags(in.Subject)
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
	// have no line break in them.
	sc := bufio.NewScanner(io.LimitReader(e.Body, maxBody+1))
	sc.Buffer(nil, int(maxBody)+1) // 4 KiB to start, grown for a longer line
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
	}
	if err := sc.Err(); err != nil {
		if in.Malformed == "" {
			in.Malformed = "body: " + Printable(err.Error())
		}
		return nil
	}
	return nil
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

// addrSpec returns a parsed address in the one form the gateway stores,
// compares and sends to (distlist.CanonicalAddress: lower case, the local
// part quoted when it needs quotes, "john q doe"@example.org), or "" when
// it is not one.
func addrSpec(addr string) string {
	spec, err := distlist.CanonicalAddress((&mail.Address{Address: addr}).String())
	if err != nil {
		return ""
	}
	return spec
}
