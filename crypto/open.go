package crypto

import (
	"bytes"
	"fmt"
	"strings"
	"time"

	"github.com/emersion/go-message/textproto"
)

// Signature describes a verified or failed signature.
type Signature struct {
	Fingerprint string    // signer's full primary-key fingerprint; empty when the key is unknown
	KeyID       uint64    // issuer (sub)key ID named by the signature
	Created     time.Time // signature creation time, as the signer claims it
	Hash        string    // hash algorithm, e.g. "SHA-512"
	ID          string    // hex SHA-256 of the signature's hashed part and value: the replay key
	Whole       bool      // covers the whole content of the message
	Err         error     // nil when valid; wraps ErrBadSignature or ErrUnknownSigner
}

// Opened is an inbound message after decryption and verification.
type Opened struct {
	Encrypted   bool
	EncryptedTo []uint64
	Inline      bool   // inline PGP (armor in a text/plain body) rather than PGP/MIME
	Entity      []byte // innermost content entity, exactly the signed bytes when signed
	Signature   *Signature

	// Partial is set when an inline encrypted block had text around it:
	// that unencrypted text is dropped from Entity, never merged with the
	// decrypted text.
	Partial bool
}

// Limits bound the work Open and TextBody do on untrusted input. Zero fields
// take the defaults of DefaultLimits.
type Limits struct {
	MaxMessageBytes      int64 // raw message size
	MaxDepth             int   // nesting of multiparts and encryption layers
	MaxParts             int   // MIME parts in total
	MaxHeaderFields      int   // header fields per entity
	MaxDecompressedBytes int64 // plaintext of one OpenPGP message
	MaxRecipients        int   // session-key packets of one OpenPGP message
}

// DefaultLimits are the limits used for zero fields of Limits.
func DefaultLimits() Limits {
	return Limits{
		MaxMessageBytes:      32 << 20,
		MaxDepth:             8,
		MaxParts:             256,
		MaxHeaderFields:      500,
		MaxDecompressedBytes: 64 << 20,
		MaxRecipients:        32,
	}
}

func (l Limits) withDefaults() Limits {
	d := DefaultLimits()
	if l.MaxMessageBytes <= 0 {
		l.MaxMessageBytes = d.MaxMessageBytes
	}
	if l.MaxDepth <= 0 {
		l.MaxDepth = d.MaxDepth
	}
	if l.MaxParts <= 0 {
		l.MaxParts = d.MaxParts
	}
	if l.MaxHeaderFields <= 0 {
		l.MaxHeaderFields = d.MaxHeaderFields
	}
	if l.MaxDecompressedBytes <= 0 {
		l.MaxDecompressedBytes = d.MaxDecompressedBytes
	}
	if l.MaxRecipients <= 0 {
		l.MaxRecipients = d.MaxRecipients
	}
	return l
}

// OpenOptions configure Open.
type OpenOptions struct {
	Decrypt   *Key      // the team's private key; nil: nothing is decrypted
	Verifiers []*Key    // keys whose signatures are recognised
	Now       time.Time // time of the key validity checks; zero: time.Now()
	Limits    Limits    // zero: DefaultLimits
}

// Open decrypts and verifies an inbound message (header and body, as
// received). It handles, at the root of the message only:
//
//   - PGP/MIME multipart/encrypted (RFC 3156 §4), with a signature inside
//     the encryption (§6.2) or a multipart/signed inside (§6.1);
//   - multipart/signed (RFC 3156 §5), verified over the exact received
//     bytes of the signed part in CRLF form;
//   - inline PGP in a text/plain body: an armored PGP MESSAGE or a
//     cleartext-signed block.
//
// A signed part found deeper (inside multipart/mixed, say) is verified and
// reported with Whole=false; message/rfc822 attachments (forwarded mail) are
// not looked into. Encrypted parts are decrypted only at the root.
//
// Errors: ErrNotMIME, ErrTooComplex, ErrDecrypt (plaintext is never
// returned when the integrity check fails; password-encrypted messages are
// refused), ErrWrongKey (then the returned Opened has EncryptedTo). A
// signature that fails is not an error of Open: see Signature.Err.
func Open(raw []byte, opts OpenOptions) (*Opened, error) {
	o := &opener{opts: opts, lim: opts.Limits.withDefaults()}
	if o.opts.Now.IsZero() {
		o.opts.Now = time.Now()
	}
	if int64(len(raw)) > o.lim.MaxMessageBytes {
		return nil, fmt.Errorf("crypto: open: %w: message of %d bytes", ErrTooComplex, len(raw))
	}
	msg := canonCRLF(raw)
	h, body := splitEntity(msg)
	if len(h) == 0 {
		return nil, fmt.Errorf("crypto: open: %w: no header", ErrNotMIME)
	}
	e, err := o.parse(h, body)
	if err != nil {
		return nil, fmt.Errorf("crypto: open: %w", err)
	}
	out := &Opened{}
	if err := o.root(out, e, 0); err != nil {
		out.Entity = nil
		if len(out.EncryptedTo) > 0 {
			return out, fmt.Errorf("crypto: open: %w", err)
		}
		return nil, fmt.Errorf("crypto: open: %w", err)
	}
	return out, nil
}

type opener struct {
	opts  OpenOptions
	lim   Limits
	parts int
}

// entity is a parsed MIME entity that keeps its exact bytes.
type entity struct {
	raw    []byte // header, blank line, body (nil for the root message)
	header textproto.Header
	body   []byte
	mtype  string
	params map[string]string
}

func (o *opener) parse(h, body []byte) (*entity, error) {
	hdr, err := parseHeader(h, o.lim.MaxHeaderFields)
	if err != nil {
		return nil, err
	}
	t, params, err := mediaType(hdr)
	if err != nil {
		return nil, err
	}
	return &entity{header: hdr, body: body, mtype: t, params: params}, nil
}

// parsePart parses a raw body part; a part without header fields is
// text/plain (RFC 2046 §5.1).
func (o *opener) parsePart(raw []byte) (*entity, error) {
	h, body := splitEntity(raw)
	e, err := o.parse(h, body)
	if err != nil {
		return nil, err
	}
	e.raw = raw
	return e, nil
}

// content returns the entity with only its Content-* header fields: the
// content of the message without its transport headers.
func (e *entity) content() []byte {
	if e.raw != nil {
		return e.raw
	}
	var b bytes.Buffer
	for f := e.header.Fields(); f.Next(); {
		if strings.HasPrefix(strings.ToLower(f.Key()), "content-") {
			b.WriteString(f.Key() + ": " + f.Value() + "\r\n")
		}
	}
	b.WriteString("\r\n")
	b.Write(e.body)
	return b.Bytes()
}

func (o *opener) split(e *entity) ([][]byte, error) {
	parts, err := splitMultipart(e.body, e.params["boundary"], o.lim.MaxParts-o.parts)
	if err != nil {
		return nil, err
	}
	o.parts += len(parts)
	return parts, nil
}

// root handles the entity at the root of the message (or of a decrypted
// layer).
func (o *opener) root(out *Opened, e *entity, depth int) error {
	if depth > o.lim.MaxDepth {
		return fmt.Errorf("%w: nesting deeper than %d", ErrTooComplex, o.lim.MaxDepth)
	}
	switch {
	case e.mtype == "multipart/encrypted" && strings.EqualFold(e.params["protocol"], "application/pgp-encrypted"):
		return o.encrypted(out, e, depth)
	case e.mtype == "multipart/signed" && strings.EqualFold(e.params["protocol"], "application/pgp-signature"):
		return o.signed(out, e)
	case e.mtype == "text/plain":
		return o.inline(out, e)
	case strings.HasPrefix(e.mtype, "multipart/"):
		out.Entity = e.content()
		sig, err := o.findSigned(e, depth+1)
		if err != nil {
			return err
		}
		out.Signature = sig
		return nil
	}
	out.Entity = e.content()
	return nil
}

func (o *opener) encrypted(out *Opened, e *entity, depth int) error {
	parts, err := o.split(e)
	if err != nil {
		return err
	}
	if len(parts) != 2 {
		return fmt.Errorf("%w: multipart/encrypted has %d parts, want 2", ErrDecrypt, len(parts))
	}
	ctl, err := o.parsePart(parts[0])
	if err != nil {
		return fmt.Errorf("%w: control part: %v", ErrDecrypt, err)
	}
	if ctl.mtype != "application/pgp-encrypted" {
		return fmt.Errorf("%w: first part is %s, want application/pgp-encrypted", ErrDecrypt, ctl.mtype)
	}
	data, err := o.parsePart(parts[1])
	if err != nil {
		return fmt.Errorf("%w: data part: %v", ErrDecrypt, err)
	}
	armored, err := decodeBody(data)
	if err != nil {
		return fmt.Errorf("%w: data part: %v", ErrDecrypt, err)
	}
	src, err := armoredSource(armored, "PGP MESSAGE")
	if err != nil {
		return fmt.Errorf("%w: %v", ErrDecrypt, err)
	}
	res, err := readPGP(src, o.opts.Decrypt, o.opts.Verifiers, o.opts.Now, o.lim)
	if res != nil {
		out.Encrypted = out.Encrypted || res.encrypted
		out.EncryptedTo = res.encryptedTo
	}
	if err != nil {
		return err
	}
	if !res.encrypted {
		return fmt.Errorf("%w: multipart/encrypted holds no encrypted data", ErrDecrypt)
	}
	plain := canonCRLF(res.plain)
	if res.sig != nil {
		res.sig.Whole = true
		out.Signature = res.sig
		out.Entity = plain
		return nil
	}
	h, body := splitEntity(plain)
	inner, err := o.parse(h, body)
	if err != nil {
		return fmt.Errorf("decrypted content: %w", err)
	}
	inner.raw = plain
	return o.root(out, inner, depth+1)
}

func (o *opener) signed(out *Opened, e *entity) error {
	sig, signed, err := o.verifyMultipart(e)
	if err != nil {
		return err
	}
	out.Signature = sig
	if signed == nil {
		out.Entity = e.content()
		return nil
	}
	sig.Whole = true
	out.Entity = signed
	return nil
}

// verifyMultipart verifies a multipart/signed entity. It returns the exact
// signed bytes when the structure is right.
func (o *opener) verifyMultipart(e *entity) (*Signature, []byte, error) {
	parts, err := o.split(e)
	if err != nil {
		return nil, nil, err
	}
	if len(parts) != 2 {
		return &Signature{Err: fmt.Errorf("%w: multipart/signed has %d parts, want 2", ErrBadSignature, len(parts))}, nil, nil
	}
	sigPart, err := o.parsePart(parts[1])
	if err != nil {
		return &Signature{Err: fmt.Errorf("%w: signature part: %v", ErrBadSignature, err)}, nil, nil
	}
	if sigPart.mtype != "application/pgp-signature" {
		return &Signature{Err: fmt.Errorf("%w: second part is %s, want application/pgp-signature", ErrBadSignature, sigPart.mtype)}, nil, nil
	}
	armored, err := decodeBody(sigPart)
	if err != nil {
		return &Signature{Err: fmt.Errorf("%w: signature part: %v", ErrBadSignature, err)}, nil, nil
	}
	bin, err := dearmor(armored, "PGP SIGNATURE")
	if err != nil {
		return &Signature{Err: fmt.Errorf("%w: %v", ErrBadSignature, err)}, nil, nil
	}
	return verifyDetached(parts[0], bin, o.opts.Verifiers, o.opts.Now), parts[0], nil
}

// findSigned looks for the first signed part below a multipart that is not
// itself signed, and reports it with Whole=false. It does not look into
// message/rfc822 parts (forwarded mail) nor decrypt anything.
func (o *opener) findSigned(e *entity, depth int) (*Signature, error) {
	if depth > o.lim.MaxDepth {
		return nil, fmt.Errorf("%w: nesting deeper than %d", ErrTooComplex, o.lim.MaxDepth)
	}
	parts, err := o.split(e)
	if err != nil {
		return nil, err
	}
	for _, p := range parts {
		c, err := o.parsePart(p)
		if err != nil {
			continue
		}
		var sig *Signature
		switch {
		case c.mtype == "multipart/signed" && strings.EqualFold(c.params["protocol"], "application/pgp-signature"):
			sig, _, err = o.verifyMultipart(c)
		case strings.HasPrefix(c.mtype, "multipart/"):
			sig, err = o.findSigned(c, depth+1)
		case c.mtype == "text/plain":
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
