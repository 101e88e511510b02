package crypto

import (
	"bytes"
	gocrypto "crypto"
	"encoding/base64"
	"fmt"
	"io"
	"mime/quotedprintable"
	"strings"
	"unicode/utf8"

	"github.com/ProtonMail/go-crypto/openpgp/clearsign"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
	gmcharset "github.com/emersion/go-message/charset"
)

// decodeBody undoes the Content-Transfer-Encoding of an entity's body. The
// charset is left alone: signatures cover the bytes as sent.
func decodeBody(e *entity) ([]byte, error) {
	switch strings.ToLower(strings.TrimSpace(e.header.Get("Content-Transfer-Encoding"))) {
	case "base64":
		clean := bytes.Map(func(r rune) rune {
			if r == ' ' || r == '\t' || r == '\r' || r == '\n' {
				return -1
			}
			return r
		}, e.body)
		clean = bytes.TrimRight(clean, "=")
		out := make([]byte, base64.RawStdEncoding.DecodedLen(len(clean)))
		n, err := base64.RawStdEncoding.Decode(out, clean)
		if err != nil {
			return nil, fmt.Errorf("base64: %v", err)
		}
		return out[:n], nil
	case "quoted-printable":
		b, err := io.ReadAll(quotedprintable.NewReader(bytes.NewReader(e.body)))
		if err != nil {
			return nil, fmt.Errorf("quoted-printable: %v", err)
		}
		return b, nil
	}
	return e.body, nil
}

var (
	beginMessage = []byte("-----BEGIN PGP MESSAGE-----")
	endMessage   = []byte("-----END PGP MESSAGE-----")
	beginSigned  = []byte("-----BEGIN PGP SIGNED MESSAGE-----")
	endSignature = []byte("-----END PGP SIGNATURE-----")
)

// armorBlock is the first inline OpenPGP block of a text.
type armorBlock struct {
	signed     bool // cleartext-signed rather than a PGP MESSAGE
	start, end int  // text[start:end] is the block
}

// findArmor finds the first inline block that starts at the beginning of a
// line; ok is false when there is none or it is not terminated.
func findArmor(text []byte) (armorBlock, bool) {
	for off := 0; off < len(text); {
		i := bytes.Index(text[off:], []byte("-----BEGIN PGP "))
		if i < 0 {
			return armorBlock{}, false
		}
		i += off
		off = i + 1
		if i > 0 && text[i-1] != '\n' {
			continue
		}
		var endMarker []byte
		var b armorBlock
		switch {
		case bytes.HasPrefix(text[i:], beginMessage):
			endMarker = endMessage
		case bytes.HasPrefix(text[i:], beginSigned):
			endMarker, b.signed = endSignature, true
		default:
			continue
		}
		j := bytes.Index(text[i:], endMarker)
		if j < 0 {
			return armorBlock{}, false
		}
		b.start, b.end = i, i+j+len(endMarker)
		return b, true
	}
	return armorBlock{}, false
}

// textEntity makes a text/plain content entity of plain text.
func textEntity(text []byte, charset string) []byte {
	if charset == "" {
		charset = "utf-8"
	}
	var b bytes.Buffer
	b.WriteString("Content-Type: " + formatMediaType("text/plain", map[string]string{"charset": charset}) + "\r\n")
	b.WriteString("Content-Transfer-Encoding: 8bit\r\n\r\n")
	b.Write(canonCRLF(text))
	return b.Bytes()
}

// inline handles a text/plain root: an armored PGP MESSAGE is decrypted, a
// cleartext-signed block verified; anything else is plain content. Inside
// decrypted content an encrypted block is never decrypted (root refuses it
// before).
func (o *opener) inline(out *Opened, e *entity) error {
	text, err := decodeBody(e)
	if err != nil {
		out.Entity = e.content()
		return nil
	}
	blk, ok := findArmor(text)
	if !ok {
		out.Entity = e.content()
		return nil
	}
	before, after := text[:blk.start], text[blk.end:]
	whole := len(bytes.TrimSpace(before)) == 0 && len(bytes.TrimSpace(after)) == 0
	out.Inline = true
	out.Partial = !whole
	if blk.signed {
		sig, plain := o.verifyClearsigned(text[blk.start:])
		if sig.Err == nil && strings.EqualFold(e.params["format"], "flowed") {
			// A cleartext signature leaves trailing blanks out, so it
			// does not cover where format=flowed joins lines: the
			// signer's client may have shown two of its lines as one.
			sig.Err = fmt.Errorf("%w: a cleartext signature in a format=flowed body does not cover its line breaks", ErrBadSignature)
		}
		sig.Whole = whole && plain != nil
		out.Signature = sig
		if sig.Whole {
			out.Entity = textEntity(plain, e.params["charset"])
		} else {
			out.Entity = e.content()
		}
		return nil
	}
	src, err := armoredSource(text[blk.start:blk.end], "PGP MESSAGE")
	if err != nil {
		return fmt.Errorf("%w: inline message: %v", ErrDecrypt, err)
	}
	decrypt := o.opts.Decrypt
	if o.decrypted {
		decrypt = nil
	}
	res, err := readPGP(src, decrypt, o.opts.Verifiers, o.opts.Now, o.lim)
	if res != nil {
		out.Encrypted = out.Encrypted || res.encrypted
		if !o.decrypted {
			out.EncryptedTo = res.encryptedTo
			out.Identities = res.identities
		}
	}
	if err != nil {
		return err
	}
	if res.encrypted {
		o.decrypted = true
		if holdsEncrypted(res.plain) {
			return nestedError("the decrypted text")
		}
	}
	out.Entity = textEntity(res.plain, "utf-8")
	if !whole {
		out.Outside = outsideText(before, after, e.params["charset"])
	}
	if res.sig != nil {
		res.sig.Whole = whole
		out.Signature = res.sig
	}
	return nil
}

// outsideText joins the text before and after an inline block, with a
// line "[...]" where the block was, as UTF-8 of at most MaxOutside bytes.
func outsideText(before, after []byte, charset string) []byte {
	return boundOutside(aroundText(before, after, charset))
}

// aroundText joins the text before and after an inline block, with a line
// "[...]" where the block was, as UTF-8.
func aroundText(before, after []byte, charset string) []byte {
	var b bytes.Buffer
	if t := bytes.TrimRight(bytes.TrimLeft(before, "\r\n"), " \t\r\n"); len(t) > 0 {
		b.Write(t)
		b.WriteString("\r\n")
	}
	b.WriteString("[...]\r\n")
	if t := bytes.TrimRight(bytes.TrimLeft(after, "\r\n"), " \t\r\n"); len(t) > 0 {
		b.Write(t)
		b.WriteString("\r\n")
	}
	return toUTF8(b.Bytes(), charset)
}

// boundOutside cuts UTF-8 text for Outside to at most MaxOutside bytes,
// saying how much was left out.
func boundOutside(text []byte) []byte {
	if len(text) <= MaxOutside {
		return text
	}
	note := fmt.Sprintf("\r\n[... %d more bytes left out]\r\n", len(text)-MaxOutside)
	cut := MaxOutside - len(note)
	for cut > 0 && !utf8.RuneStart(text[cut]) {
		cut--
	}
	return append(text[:cut:cut], note...)
}

// toUTF8 converts text in charset to valid UTF-8.
func toUTF8(text []byte, charset string) []byte {
	switch strings.ToLower(charset) {
	case "", "utf-8", "us-ascii":
	default:
		if r, err := gmcharset.Reader(charset, bytes.NewReader(text)); err == nil {
			if b, err := io.ReadAll(r); err == nil {
				text = b
			}
		}
	}
	return bytes.ToValidUTF8(text, []byte("\uFFFD"))
}

// clearsignedIn verifies a cleartext-signed block in a text/plain part, or
// returns nil when there is none.
func (o *opener) clearsignedIn(e *entity) *Signature {
	text, err := decodeBody(e)
	if err != nil {
		return nil
	}
	blk, ok := findArmor(text)
	if !ok || !blk.signed {
		return nil
	}
	sig, _ := o.verifyClearsigned(text[blk.start:])
	return sig
}

// verifyClearsigned verifies a cleartext-signed block; plain is the signed
// text (dash-escaping removed) when the block is well formed.
func (o *opener) verifyClearsigned(text []byte) (*Signature, []byte) {
	b, _ := clearsign.Decode(text)
	if b == nil || b.ArmoredSignature == nil {
		return &Signature{Err: fmt.Errorf("%w: malformed cleartext signature", ErrBadSignature)}, nil
	}
	bin, err := io.ReadAll(io.LimitReader(b.ArmoredSignature.Body, 1<<20))
	if err != nil {
		return &Signature{Err: fmt.Errorf("%w: cleartext signature armor: %v", ErrBadSignature, err)}, nil
	}
	sig, sp := verifyDetachedPacket(b.Bytes, bin, o.opts.Verifiers, o.opts.Now)
	if sp != nil {
		if err := checkHashHeader(b.Headers.Values("Hash"), sp); err != nil {
			sig.Err = err
		}
	}
	checkIntended(sig, sp, o.opts.Decrypt)
	return sig, b.Plaintext
}

// checkHashHeader refuses a cleartext signature whose Hash armor headers
// (clearsign.Decode keeps their values, upper case) do not name exactly
// the hash algorithm the signature uses. Without the header RFC 4880 §7
// implies MD5, which no signature here uses: a version 3 or 4 signature
// needs it. A version 6 signature may go without it (RFC 9580 §7: its
// writers should not emit it; go-crypto does not), but not with a wrong
// one.
func checkHashHeader(names []string, sp *packet.Signature) error {
	used := armorHashName(sp.Hash)
	if len(names) == 0 {
		if sp.Version == 6 {
			return nil
		}
		return fmt.Errorf("%w: no Hash header (MD5 implied), the signature uses %s", ErrBadSignature, used)
	}
	for _, n := range names {
		if n != used {
			return fmt.Errorf("%w: Hash header says %s, the signature uses %s", ErrBadSignature, strings.Join(names, ","), used)
		}
	}
	return nil
}

// armorHashName is the name of a hash algorithm in a Hash armor header
// (RFC 9580 §7, the text names of §9.5).
func armorHashName(h gocrypto.Hash) string {
	switch h {
	case gocrypto.MD5:
		return "MD5"
	case gocrypto.SHA1:
		return "SHA1"
	case gocrypto.RIPEMD160:
		return "RIPEMD160"
	case gocrypto.SHA224:
		return "SHA224"
	case gocrypto.SHA256:
		return "SHA256"
	case gocrypto.SHA384:
		return "SHA384"
	case gocrypto.SHA512:
		return "SHA512"
	case gocrypto.SHA3_256:
		return "SHA3-256"
	case gocrypto.SHA3_512:
		return "SHA3-512"
	}
	return h.String()
}
