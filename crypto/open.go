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
	// IntendedForUs: the signature's Intended Recipient Fingerprint
	// subpackets name the team key (the key OpenOptions.Decrypt), so the
	// signed content was meant for this gateway. A signature that names
	// only other recipients has Err set.
	IntendedForUs bool
	Err           error // nil when valid; wraps ErrBadSignature or ErrUnknownSigner
}

// Opened is an inbound message after decryption and verification.
type Opened struct {
	// Encrypted: the message came encrypted. A multipart/mixed whose
	// parts are encrypted one by one (inline PGP with attachments) counts
	// as encrypted only when every part with content was (an OpenPGP key
	// or signature part, blank text, carry none).
	Encrypted   bool
	EncryptedTo []uint64
	Inline      bool   // inline PGP (armor in a text/plain body, attachments encrypted one by one) rather than PGP/MIME
	Entity      []byte // innermost content entity, exactly the signed bytes when signed
	// Spooled holds the content entity instead of Entity (nil then) for a
	// big message opened by OpenFromSpooled.
	Spooled   *SpooledEntity
	Signature *Signature

	// Identities recognise an encrypted message however it was
	// re-encoded (armor, transfer encoding, packet framing, inline or
	// PGP/MIME): what no one can change without the key. For the layer
	// Open decrypted they are two SHA-256 digests of 32 bytes, in this
	// order: of the session key ("secgate-sk" 0x00, the cipher algorithm
	// octet, the key) and of the content of the literal data packet
	// ("secgate-pt" 0x00, the content as decrypted, before any line-end
	// conversion). The session key itself is never kept. Two messages
	// whose Identities share an element hold the same ciphertext, or the
	// same plaintext: a message seen before, re-sent. For a
	// multipart/mixed whose parts are encrypted one by one they are the
	// two digests of each part decrypted, in the order of the parts: the
	// ones its ciphertext has when it comes any other way.
	//
	// They are set once the data decrypted and passed its integrity
	// check, also when Open then fails (ErrNested, malformed or too
	// complex content), so that a caller can still recognise the
	// ciphertext; they are nil when nothing was decrypted or the
	// integrity check failed. When the decrypted data was itself an
	// encrypted OpenPGP message rather than literal data (ErrNested),
	// only the session key's identity is there.
	Identities [][]byte

	// Partial is set when an inline block (encrypted or cleartext-signed)
	// had other text around it in its text/plain body, or a second
	// armored block after it (never decrypted nor verified); and when a
	// multipart/mixed whose parts are encrypted one by one also had
	// parts with content in clear, or an attachment that was not
	// decrypted.
	Partial bool

	// Outside is the text of that body outside an inline encrypted
	// block (or an inline signed PGP MESSAGE), which Entity, the
	// decrypted text, leaves out: the text before the block, a line
	// "[...]" where the block was, the text after it, in UTF-8, at most
	// MaxOutside bytes (a longer text is cut and says so). It is neither
	// encrypted nor verified: show it to the team marked so, never merged
	// with the decrypted text. For a cleartext-signed block with text
	// around it Outside is nil: Entity is then the whole body, and
	// Signature.Whole is false.
	//
	// For a multipart/mixed whose parts are encrypted one by one,
	// Outside goes through the parts in order: "[...]" for an encrypted
	// text (or the text around its block), the text of a part in clear,
	// and a line in brackets for each attachment that came in clear or
	// was not decrypted (encrypted to another key, damaged), which
	// Entity holds as it came.
	Outside []byte
}

// MaxOutside bounds Opened.Outside.
const MaxOutside = 64 << 10

// Limits bound the work Open and TextBody do on untrusted input. Zero fields
// take the defaults of DefaultLimits.
type Limits struct {
	MaxMessageBytes      int64 // raw message size
	MaxDepth             int   // nesting of multiparts and encryption layers
	MaxParts             int   // MIME parts in total
	MaxHeaderFields      int   // header fields per entity
	MaxDecompressedBytes int64 // plaintext of one OpenPGP message
	MaxRecipients        int   // session-key packets of one OpenPGP message
	// MaxEncryptedParts bounds the parts of a multipart/mixed encrypted
	// one by one (inline PGP with attachments), each a public-key
	// operation; MaxDecompressedBytes bounds their plaintext together.
	MaxEncryptedParts int
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
		MaxEncryptedParts:    32,
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
	if l.MaxEncryptedParts <= 0 {
		l.MaxEncryptedParts = d.MaxEncryptedParts
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
//     cleartext-signed block;
//   - inline PGP with attachments, as Enigmail, Thunderbird (before 78)
//     and K-9 send it: a multipart/mixed whose text part holds an armored
//     PGP MESSAGE and whose attachments are encrypted one by one
//     (NAME.pgp or NAME.gpg binary, NAME.asc armored). Each is decrypted
//     (an attachment is then named NAME, its type guessed from the name);
//     Entity is a multipart/mixed of what was decrypted. An attachment
//     that does not decrypt with the team key stays as it came; it and
//     the parts in clear (whose text is never merged with the decrypted
//     text) are told in Outside, and Partial is set. Nested encryption in
//     any decrypted part fails with ErrNested; so does the encrypted text
//     failing, or every part with content being encrypted and none to us,
//     as for a single inline body. A signature inside a block is whole
//     only when it alone covers all the message holds (blank text aside).
//
// A signed part found deeper (inside multipart/mixed, say) is verified and
// reported with Whole=false; message/rfc822 attachments (forwarded mail) are
// not looked into. Encrypted parts are decrypted only at the root, and only
// one layer: an encrypted OpenPGP message at the root of decrypted content
// (multipart/encrypted, an armored PGP MESSAGE in a text/plain or other
// single-part body, the first part of a multipart/signed being either, or
// encrypted packets in place of the literal data) is never decrypted and
// makes Open fail with ErrNested. One deeper down, an attachment in a
// multipart/mixed, stays an opaque attachment. Signed-then-encrypted
// messages (RFC 3156 §6.1 and §6.2) are one layer.
//
// Errors: ErrNotMIME, ErrTooComplex, ErrDecrypt (plaintext is never
// returned when the integrity check fails; password-encrypted messages are
// refused), ErrWrongKey (then the returned Opened has EncryptedTo),
// ErrNested (then the returned Opened has Encrypted, EncryptedTo and the
// decrypted layer's Identities, and no Entity). A signature that fails is
// not an error of Open: see Signature.Err.
func Open(raw []byte, opts OpenOptions) (*Opened, error) {
	o := newOpener(opts)
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
	return o.result(out, o.root(out, e, 0))
}

// result is what Open returns for out once err says how the opening went.
func (o *opener) result(out *Opened, err error) (*Opened, error) {
	if err != nil {
		out.Entity = nil
		if len(out.EncryptedTo) > 0 {
			return out, fmt.Errorf("crypto: open: %w", err)
		}
		return nil, fmt.Errorf("crypto: open: %w", err)
	}
	return out, nil
}

func newOpener(opts OpenOptions) *opener {
	o := &opener{opts: opts, lim: opts.Limits.withDefaults()}
	if o.opts.Now.IsZero() {
		o.opts.Now = time.Now()
	}
	return o
}

type opener struct {
	opts  OpenOptions
	lim   Limits
	parts int
	// decrypted is set once a layer was decrypted: nothing is decrypted
	// after it.
	decrypted bool
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
	if o.decrypted && o.nested(e, true) {
		return nestedError("the root of the decrypted content")
	}
	switch {
	case e.mtype == "multipart/encrypted" && strings.EqualFold(e.params["protocol"], "application/pgp-encrypted"):
		return o.encrypted(out, e, depth)
	case e.mtype == "multipart/signed" && strings.EqualFold(e.params["protocol"], "application/pgp-signature"):
		return o.signed(out, e)
	case e.mtype == "text/plain":
		return o.inline(out, e)
	case strings.HasPrefix(e.mtype, "multipart/"):
		if e.mtype == "multipart/mixed" && !o.decrypted {
			if handled, err := o.mixed(out, e); handled {
				return err
			}
		}
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
	if o.decrypted {
		return nestedError("multipart/encrypted in decrypted content")
	}
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
	return o.decryptLayer(out, src, depth)
}

// decryptLayer decrypts the OpenPGP message of a multipart/encrypted
// entity, which src reads, and opens what it holds.
func (o *opener) decryptLayer(out *Opened, src pgpSource, depth int) error {
	res, err := readPGP(src, o.opts.Decrypt, o.opts.Verifiers, o.opts.Now, o.lim)
	if res != nil && res.spooled != nil {
		defer res.spooled.keepFor(out)
	}
	if res != nil {
		out.Encrypted = out.Encrypted || res.encrypted
		out.EncryptedTo = res.encryptedTo
		out.Identities = res.identities
	}
	if err != nil {
		return err
	}
	if !res.encrypted {
		return fmt.Errorf("%w: multipart/encrypted holds no encrypted data", ErrDecrypt)
	}
	o.decrypted = true
	if res.spooled != nil {
		handled, err := o.spooledLayer(out, res, depth)
		if err := res.spooled.reads.err; err != nil {
			return err // whatever the reading made of it
		}
		if handled {
			return err
		}
		// Not a form read from the spool: opened whole, as it always was.
		if res.plain, err = res.spooled.readAll(); err != nil {
			return err
		}
	}
	if isEncryptedMessage(res.plain) {
		return nestedError("the decrypted content")
	}
	plain := canonCRLF(res.plain)
	h, body := splitEntity(plain)
	if res.sig != nil {
		res.sig.Whole = true
		out.Signature = res.sig
		if inner, err := o.parse(h, body); err == nil && o.nested(inner, true) {
			return nestedError("the root of the decrypted content")
		}
		out.Entity = plain
		return nil
	}
	inner, err := o.parse(h, body)
	if err != nil {
		return fmt.Errorf("decrypted content: %w", err)
	}
	inner.raw = plain
	return o.root(out, inner, depth+1)
}

// nestedError is the error of a message whose decrypted content is itself
// encrypted; where says where the inner message is.
func nestedError(where string) error {
	return fmt.Errorf("%w: %s is an encrypted OpenPGP message (not decrypted)", ErrNested, where)
}

// nested reports whether the entity e, the root of decrypted content, is
// an encrypted OpenPGP message: multipart/encrypted, or a single-part body
// holding one (armored, or binary). With signed, the first part of a
// multipart/signed is looked at as the root.
func (o *opener) nested(e *entity, signed bool) bool {
	switch {
	case e.mtype == "multipart/encrypted":
		return true
	case signed && e.mtype == "multipart/signed":
		parts, err := o.split(e)
		if err != nil || len(parts) == 0 {
			return false
		}
		first, err := o.parsePart(parts[0])
		return err == nil && o.nested(first, false)
	case strings.HasPrefix(e.mtype, "multipart/") || e.mtype == "message/rfc822":
		return false
	}
	body, err := decodeBody(e)
	return err == nil && holdsEncrypted(body)
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
	sig, sp := verifyDetachedPacket(parts[0], bin, o.opts.Verifiers, o.opts.Now)
	checkIntended(sig, sp, o.opts.Decrypt)
	return sig, parts[0], nil
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
