package distlist

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"mime"
	"net/mail"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
	"github.com/emersion/go-message/textproto"
	"github.com/emersion/go-smtp"

	"github.com/secgate/secgate/crypto"
)

// guardError is a refusal by the guard.
type guardError struct{ reason string }

func (e *guardError) Error() string { return "guard: " + e.reason }
func (e *guardError) Unwrap() error { return ErrGuard }

func refuse(format string, args ...any) error {
	return &guardError{fmt.Sprintf(format, args...)}
}

// transmit sends j over the sender's connection: the transaction's
// limits and options, then smtpConn.send, which runs the guard right
// before DATA.
func (s *sender) transmit(ctx context.Context, j *job, keyID uint64) (string, error) {
	cfg := s.o.cfg.SMTP
	conn := s.conn
	conn.setLimit(time.Now().Add(cfg.SubmissionTimeout + 4*cfg.CommandTimeout))
	defer conn.setLimit(time.Time{})
	// RET=HDRS: a bounce must not carry the message back; ENVID: the token
	// again, for MTAs that rewrite the bounce address; SMTPUTF8 for an
	// address or a header that is not ASCII (RFC 6531, 6532), or nothing
	// at all when the server does not offer it: the address must not be
	// mangled on the way.
	opts := &smtp.MailOptions{Size: j.size(), Return: smtp.DSNReturnHeaders, EnvelopeID: tokenFromAddress(s.o.cfg.Bounce, j.envFrom),
		UTF8: needsSMTPUTF8(j.envFrom, j.recipient, j.head())}
	if opts.UTF8 && !conn.ext("SMTPUTF8") {
		return "", &permanentError{"not sent: the address " + j.recipient + " or the message header is not ASCII and the submission server does not offer SMTPUTF8"}
	}
	return conn.send(ctx, j, keyID, opts, s.o.clock)
}

// permanentError is a row that cannot be sent through this server however
// often it is tried; no transaction was started.
type permanentError struct{ reason string }

func (e *permanentError) Error() string { return e.reason }

// needsSMTPUTF8 reports whether a transaction needs SMTPUTF8: an envelope
// address or the message's header section is not ASCII.
func needsSMTPUTF8(from, to string, raw []byte) bool {
	if !isASCII(from) || !isASCII(to) {
		return true
	}
	hdr := raw
	if i := bytes.Index(raw, []byte("\r\n\r\n")); i >= 0 {
		hdr = raw[:i]
	}
	for _, c := range hdr {
		if c >= utf8.RuneSelf {
			return true
		}
	}
	return false
}

// olderObscuredSubject is the outer Subject encrypted rows had before it
// became crypto.ObscuredSubject ("[...]", RFC 9788): a row queued then
// still carries it and must still go out.
const olderObscuredSubject = "..."

// maxGuardPackets bounds the packets the guard reads before the data packet.
const maxGuardPackets = 16

// maxControlPart bounds the control part of multipart/encrypted the guard
// reads ("Version: 1").
const maxControlPart = 4 << 10

// guard checks a message of row j right before DATA: CRLF line ends only;
// the recipient alone in To, no Cc or Bcc; for a row that must be
// encrypted (its kind, its case and its list say so, or its flag adds it)
// a multipart/encrypted message whose only PKESK is for keyID, the
// recipient's current encryption subkey, followed by one encrypted data
// packet and nothing else, and the neutral subject (crypto.ObscuredSubject,
// or the older "..." of rows queued before it).
func guard(msg *outMessage, j *job, keyID uint64) error {
	if msg.blob == nil {
		return guardStream(msg.reader(), j, keyID)
	}
	h := sha256.New()
	if err := guardStream(io.TeeReader(msg.reader(), h), j, keyID); err != nil {
		return err
	}
	msg.sum = h.Sum(nil)
	return nil
}

// guardStream is guard over a message read from r, to its end; it holds
// no more of it than a line or a packet at a time. An error reading r is
// returned as it is, not as a refusal.
func guardStream(r io.Reader, j *job, keyID uint64) error {
	lc := &lineCheck{r: r}
	br := guardReaders.Get().(*bufio.Reader)
	br.Reset(lc)
	defer func() { br.Reset(nil); guardReaders.Put(br) }()
	err := guardMessage(br, j, keyID)
	// The line ends of the whole message are checked, whatever the
	// structure showed, and a wrong one is the first refusal.
	if _, derr := io.Copy(io.Discard, br); derr != nil && lc.err == nil && lc.readErr == nil {
		err = cmp.Or(err, refuse("unreadable message: %v", derr))
	}
	if lc.readErr != nil {
		return lc.readErr
	}
	if lc.err != nil {
		return lc.err
	}
	return err
}

// guardReaders are the buffered readers guardStream reads a message
// through: one for every message sent would be 4 KiB more for the
// collector each time. None is held after guardStream returns.
var guardReaders = sync.Pool{New: func() any { return bufio.NewReader(nil) }}

// guardMessage checks the header and, for a row that must be encrypted,
// the structure of the message read from br (see guard).
func guardMessage(br *bufio.Reader, j *job, keyID uint64) error {
	recipient := j.recipient
	h, err := textproto.ReadHeader(br)
	if err != nil {
		return refuse("unreadable header: %v", err)
	}
	for _, f := range []string{"Cc", "Bcc", "Resent-To", "Resent-Cc", "Resent-Bcc"} {
		if h.Has(f) {
			return refuse("header has %s", f)
		}
	}
	tos := h.Values("To")
	if len(tos) != 1 {
		return refuse("%d To fields", len(tos))
	}
	al, err := mail.ParseAddressList(tos[0])
	if err != nil || len(al) != 1 || !SameAddress(al[0].Address, recipient) {
		return refuse("To is not the envelope recipient alone")
	}
	if !j.mustEncrypt() {
		return nil
	}
	if keyID == 0 {
		return refuse("a %s must be encrypted and the row has no recipient key", j.kind)
	}
	if s := h.Get("Subject"); s != crypto.ObscuredSubject && s != olderObscuredSubject {
		return refuse("encrypted message with a non-neutral Subject")
	}
	mt, params, err := mime.ParseMediaType(h.Get("Content-Type"))
	if err != nil || mt != "multipart/encrypted" || params["protocol"] != "application/pgp-encrypted" || params["boundary"] == "" {
		return refuse("encrypted row is not multipart/encrypted (Content-Type %q)", h.Get("Content-Type"))
	}
	// The parts are read as a stream: the encrypted part is checked to its
	// end, its data packet only passed over, so a big message is not
	// copied.
	mr := textproto.NewMultipartReader(br, params["boundary"])
	var types []string
	var control bool
	var pkesk []uint64
	var packetErr error
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return refuse("multipart: %v", err)
		}
		if len(types) == 2 {
			return refuse("multipart/encrypted with more than two parts")
		}
		t, _, _ := mime.ParseMediaType(p.Header.Get("Content-Type"))
		types = append(types, t)
		switch len(types) {
		case 1:
			body, err := io.ReadAll(io.LimitReader(p, maxControlPart))
			if err != nil {
				return refuse("multipart: %v", err)
			}
			control = bytes.Contains(body, []byte("Version: 1"))
		case 2:
			pkesk, packetErr = sessionKeys(p)
		}
		if _, err := io.Copy(io.Discard, p); err != nil {
			return refuse("multipart: %v", err)
		}
	}
	if len(types) != 2 || types[0] != "application/pgp-encrypted" || types[1] != "application/octet-stream" {
		return refuse("multipart/encrypted parts are %v", types)
	}
	if !control {
		return refuse("control part without Version: 1")
	}
	if packetErr != nil {
		return packetErr
	}
	if len(pkesk) != 1 {
		return refuse("%d PKESK packets, want exactly 1", len(pkesk))
	}
	if pkesk[0] != keyID {
		return refuse("encrypted to key ID %016X, the recipient's encryption subkey is %016X", pkesk[0], keyID)
	}
	return nil
}

// sessionKeys reads the armored PGP MESSAGE in r to its end and returns
// the key IDs of the session-key packets before its encrypted data packet.
// Anything but session-key packets and then one encrypted data packet is
// refused: a second message after the first, for someone else, too. The
// data is passed over as a stream, not kept.
func sessionKeys(r io.Reader) ([]uint64, error) {
	blk, err := armor.Decode(r)
	if err != nil || blk.Type != "PGP MESSAGE" {
		return nil, refuse("encrypted part is not an armored PGP MESSAGE")
	}
	pr := packet.NewReader(blk.Body)
	var pkesk []uint64
	for i := 0; ; i++ {
		if i == maxGuardPackets {
			return nil, refuse("too many packets before the encrypted data")
		}
		p, err := pr.Next()
		if err != nil {
			return nil, refuse("no encrypted data packet: %v", err)
		}
		var data io.Reader
		switch p := p.(type) {
		case *packet.EncryptedKey:
			pkesk = append(pkesk, p.KeyId)
			continue
		case *packet.SymmetricallyEncrypted:
			data = p.Contents
		case *packet.AEADEncrypted:
			data = p.Contents
		default:
			return nil, refuse("unexpected packet %T", p)
		}
		if _, err := io.Copy(io.Discard, data); err != nil {
			return nil, refuse("encrypted data: %v", err)
		}
		if p, err := pr.Next(); err != io.EOF {
			return nil, refuse("more after the encrypted data (%T, %v)", p, err)
		}
		return pkesk, nil
	}
}
