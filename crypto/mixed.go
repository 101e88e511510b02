package crypto

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"mime"
	"path"
	"strings"

	"github.com/emersion/go-message"
)

// Inline PGP with attachments. Enigmail, Thunderbird (before 78) and K-9
// send an inline-PGP message with attachments as a multipart/mixed in
// clear: its text part holds an armored PGP MESSAGE, and each attachment
// is encrypted on its own, binary as NAME.pgp (NAME.gpg from gpg) or
// armored as NAME.asc. At the root of a message (never inside decrypted
// content) Open decrypts each of those parts with the team key and makes
// one content entity of them (mixed).

// mixedBoundary is the boundary of the entity Open makes of such a
// message. Every body in it is quoted-printable or base64, neither of
// which ever holds "=_", so no part's content can end the part.
const mixedBoundary = "=_secgate-inline"

// encryptedSuffixes end the name of an attachment encrypted on its own.
var encryptedSuffixes = []string{".pgp", ".gpg", ".asc"}

// partRole is what a part of a multipart/mixed holds.
type partRole int

const (
	partBlank       partRole = iota // no content: blank text
	partMeta                        // an OpenPGP key or signature: kept, no content
	partEncText                     // a text/plain body holding an encrypted inline block
	partEncFile                     // an attachment encrypted on its own (NAME.pgp, .gpg, .asc)
	partClearText                   // text in clear (text/plain, text/html)
	partClearFile                   // an attachment, or any other single part, in clear
	partClearNested                 // a multipart in clear
)

// mixedPart is one part of a multipart/mixed, read and classified.
type mixedPart struct {
	role  partRole
	e     *entity    // nil when the part is no MIME entity
	data  []byte     // the decoded body (the raw part when it is no entity)
	name  string     // the file name, header-safe
	ctype string     // media type
	blk   armorBlock // the encrypted block of a partEncText

	res  *pgpResult // what decrypting it gave
	fail error      // why a partEncFile was not decrypted (then kept as it came)
}

// encrypted reports whether the part was sent encrypted on its own.
func (p *mixedPart) encrypted() bool { return p.role == partEncText || p.role == partEncFile }

// content reports whether the part carries content of the message.
func (p *mixedPart) content() bool { return p.role != partBlank && p.role != partMeta }

// classify reads one raw part of a multipart/mixed.
func (o *opener) classify(raw []byte) mixedPart {
	c, err := o.parsePart(raw)
	if err != nil {
		return mixedPart{role: partClearFile, data: raw, ctype: "application/octet-stream"}
	}
	p := mixedPart{e: c, ctype: c.mtype}
	mh := message.Header{Header: c.header}
	disp, dparams, _ := mh.ContentDisposition()
	name := dparams["filename"]
	if name == "" {
		_, cparams, _ := mh.ContentType()
		name = cparams["name"]
	}
	p.name = headerSafe(name)
	attachment := strings.EqualFold(disp, "attachment") || name != ""
	if strings.HasPrefix(c.mtype, "multipart/") {
		p.role = partClearNested
		return p
	}
	p.data, err = decodeBody(c)
	if err != nil {
		p.data = c.body
	}
	switch {
	case keyOrSignature(p.data) != "":
		p.role = partMeta
	case !attachment && c.mtype == "text/plain":
		if blk, ok := findArmor(p.data); ok && !blk.signed && isEncryptedMessage(p.data[blk.start:blk.end]) {
			p.role, p.blk = partEncText, blk
		} else if len(bytes.TrimSpace(p.data)) == 0 {
			p.role = partBlank
		} else {
			p.role = partClearText
		}
	case !attachment && c.mtype == "text/html":
		p.role = partClearText
		if len(bytes.TrimSpace(p.data)) == 0 {
			p.role = partBlank
		}
	case attachment && encryptedName(name) && isEncryptedMessage(p.data):
		p.role = partEncFile
	case !attachment && len(bytes.TrimSpace(p.data)) == 0:
		p.role = partBlank
	default:
		p.role = partClearFile
	}
	return p
}

// keyOrSignature is "application/pgp-keys" when b, but for the white
// space around it, is exactly one armored PUBLIC KEY BLOCK that decodes,
// "application/pgp-signature" when it is exactly one armored SIGNATURE
// that decodes, and "" otherwise. Only then is a part a key or signature
// without content: whatever its label says, text before the BEGIN line,
// after the END line, after the checksum or among the base64 is content
// (a part that merely starts like a key could carry anything after it).
func keyOrSignature(b []byte) string {
	b = bytes.TrimSpace(b)
	for _, k := range []struct{ block, ctype string }{
		{"PGP PUBLIC KEY BLOCK", "application/pgp-keys"},
		{"PGP SIGNATURE", "application/pgp-signature"},
	} {
		if wholeArmor(b, k.block) {
			return k.ctype
		}
	}
	return ""
}

// armorHeaders are the armor header keys of RFC 9580 §6.2.2.3.
var armorHeaders = map[string]bool{"Version": true, "Comment": true, "Hash": true, "Charset": true, "MessageID": true}

// wholeArmor reports whether b is exactly one armored block of type
// block, from its BEGIN line to its END line: armor headers, a blank
// line, base64 lines, an optional checksum line just before the END line,
// with nothing else, and it decodes to OpenPGP packets whose first is a
// public key (PUBLIC KEY BLOCK) or a signature (SIGNATURE).
func wholeArmor(b []byte, block string) bool {
	begin, end := "-----BEGIN "+block+"-----", "-----END "+block+"-----"
	lines := strings.Split(string(b), "\n")
	for i := range lines {
		lines[i] = strings.TrimSpace(lines[i])
	}
	if len(lines) < 3 || lines[0] != begin || lines[len(lines)-1] != end {
		return false
	}
	body := lines[1 : len(lines)-1]
	for len(body) > 0 && body[0] != "" { // armor headers
		k, _, ok := strings.Cut(body[0], ":")
		if !ok || !armorHeaders[k] {
			return false
		}
		body = body[1:]
	}
	if len(body) == 0 {
		return false // no blank line after the headers
	}
	body = body[1:]
	if n := len(body); n > 0 && len(body[n-1]) == 5 && body[n-1][0] == '=' {
		body = body[:n-1] // the checksum
	}
	for _, l := range body {
		for _, r := range l {
			if !(r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '+' || r == '/' || r == '=') {
				return false
			}
		}
	}
	data, err := dearmor(b, block)
	if err != nil || len(data) == 0 || data[0]&0x80 == 0 {
		return false
	}
	tag := data[0] & 0x3f // new format
	if data[0]&0x40 == 0 {
		tag = (data[0] >> 2) & 0x0f // old format
	}
	if block == "PGP SIGNATURE" {
		return tag == 2
	}
	return tag == 6
}

// encryptedName reports whether a file name ends in .pgp, .gpg or .asc.
func encryptedName(name string) bool {
	lower := strings.ToLower(name)
	for _, s := range encryptedSuffixes {
		if strings.HasSuffix(lower, s) {
			return true
		}
	}
	return false
}

// decryptedName is the name of a decrypted attachment: its name without
// the .pgp, .gpg or .asc.
func decryptedName(name string) string {
	lower := strings.ToLower(name)
	for _, s := range encryptedSuffixes {
		if strings.HasSuffix(lower, s) {
			name = name[:len(name)-len(s)]
			break
		}
	}
	if strings.TrimSpace(name) == "" {
		return "attachment"
	}
	return name
}

// fileTypes are the media types of the files reports carry most, the
// same on every machine (mime.TypeByExtension reads the system's tables).
var fileTypes = map[string]string{
	".txt": "text/plain; charset=utf-8", ".log": "text/plain; charset=utf-8", ".md": "text/markdown; charset=utf-8",
	".patch": "text/x-diff", ".diff": "text/x-diff", ".py": "text/x-python", ".sh": "text/x-shellscript",
	".c": "text/x-c", ".go": "text/x-go", ".html": "text/html; charset=utf-8", ".json": "application/json",
	".pdf": "application/pdf", ".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg",
	".zip": "application/zip", ".gz": "application/gzip", ".tar": "application/x-tar", ".pcap": "application/vnd.tcpdump.pcap",
}

// guessType is the media type of a file by its name, or
// application/octet-stream.
func guessType(name string) string {
	ext := strings.ToLower(path.Ext(name))
	if t, ok := fileTypes[ext]; ok {
		return t
	}
	if t := mime.TypeByExtension(ext); t != "" {
		return t
	}
	return "application/octet-stream"
}

// mixed opens a multipart/mixed at the root of the message whose parts
// are encrypted one by one. It decrypts each encrypted part with the team
// key: the text of an inline block, and each attachment named NAME.pgp,
// NAME.gpg or NAME.asc that holds an encrypted message. handled is false
// when there is nothing of the kind, or nothing decrypted next to content
// in clear: the message is then opened as any multipart.
//
// Out.Entity becomes a multipart/mixed of the decrypted text and
// attachments (each named without its suffix), the attachments that stay
// as they came (to another key, damaged) and the parts in clear that are
// no text; a file of those named as a decrypted one is named NAME
// (unencrypted) or NAME (not decrypted). A key or signature has no
// content only when its part is one armored block and nothing else. Text in clear is Outside, with a line for each attachment that
// came in clear or was not decrypted. The message is encrypted when every
// part with content was; Partial when something is outside.
//
// The encrypted text failing, or every part with content encrypted and
// none decrypted, fails the message as a single inline body would
// (ErrWrongKey, ErrDecrypt); nested encryption in any decrypted part
// fails it with ErrNested, and so do the limits (ErrTooComplex). An
// attachment that does not decrypt with the team key stays as it came.
func (o *opener) mixed(out *Opened, e *entity) (handled bool, err error) {
	counted := o.parts
	raws, err := o.split(e)
	if err != nil {
		o.parts = counted
		return false, nil
	}
	parts := make([]mixedPart, len(raws))
	n := 0
	for i, r := range raws {
		parts[i] = o.classify(r)
		if parts[i].encrypted() {
			n++
		}
	}
	if n == 0 {
		o.parts = counted
		return false, nil
	}
	if n > o.lim.MaxEncryptedParts {
		return true, fmt.Errorf("%w: more than %d parts encrypted one by one", ErrTooComplex, o.lim.MaxEncryptedParts)
	}

	var used int64 // plaintext of the parts decrypted so far
	decrypted, clear := 0, 0
	for i := range parts {
		p := &parts[i]
		if !p.encrypted() {
			if p.content() {
				clear++
			}
			continue
		}
		if err := o.decryptPart(out, p, used); err != nil {
			if p.role == partEncText || !errors.Is(err, ErrWrongKey) && !errors.Is(err, ErrDecrypt) {
				return true, err
			}
			p.fail = err
			continue
		}
		used += int64(len(p.res.plain))
		decrypted++
	}
	if decrypted == 0 {
		if clear > 0 {
			// Nothing decrypted, content in clear: a message in clear
			// with an attachment to someone else.
			out.Encrypted, out.EncryptedTo, out.Identities = false, nil, nil
			o.parts = counted
			return false, nil
		}
		// Every part with content encrypted, none to us.
		for _, p := range parts {
			if p.fail != nil && errors.Is(p.fail, ErrWrongKey) {
				return true, p.fail
			}
		}
		for _, p := range parts {
			if p.fail != nil {
				return true, p.fail
			}
		}
	}
	o.decrypted = true
	return true, o.mixedEntity(out, parts, clear)
}

// decryptPart decrypts one encrypted part within what is left of the
// plaintext limit, used bytes having been decrypted before. It records the
// part's key IDs and identities in out.
func (o *opener) decryptPart(out *Opened, p *mixedPart, used int64) error {
	armored := p.data
	if p.role == partEncText {
		armored = p.data[p.blk.start:p.blk.end]
	}
	src, err := armoredSource(armored, "PGP MESSAGE")
	if err != nil {
		return fmt.Errorf("%w: %v", ErrDecrypt, err)
	}
	lim := o.lim
	lim.MaxDecompressedBytes -= used
	res, err := readPGP(src, o.opts.Decrypt, o.opts.Verifiers, o.opts.Now, lim)
	if res != nil {
		out.Encrypted = out.Encrypted || res.encrypted
		for _, id := range res.encryptedTo {
			if !containsID(out.EncryptedTo, id) {
				out.EncryptedTo = append(out.EncryptedTo, id)
			}
		}
		out.Identities = append(out.Identities, res.identities...)
	}
	p.res = res
	switch {
	case err != nil:
		return err
	case !res.encrypted:
		return fmt.Errorf("%w: %s holds no encrypted data", ErrDecrypt, p.what())
	case holdsEncrypted(res.plain):
		return nestedError("the decrypted " + p.what())
	}
	return nil
}

func containsID(ids []uint64, id uint64) bool {
	for _, x := range ids {
		if x == id {
			return true
		}
	}
	return false
}

// what names the part in errors.
func (p *mixedPart) what() string {
	if p.role == partEncText {
		return "inline text"
	}
	return fmt.Sprintf("attachment %q", p.name)
}

// mixedEntity makes out's Entity, Outside, Partial and Signature of the
// parts of a multipart/mixed of which some were decrypted; clear is the
// number of parts with content in clear.
func (o *opener) mixedEntity(out *Opened, parts []mixedPart, clear int) error {
	var w mixedWriter
	w.b.WriteString("Content-Type: multipart/mixed; boundary=\"" + mixedBoundary + "\"\r\n\r\n")
	var (
		pieces  [][]byte // the text outside, in order
		sigs    []*Signature
		kept    int // parts in Entity
		partial = clear > 0
	)
	// A file that did not come encrypted, or was not decrypted, is never
	// named as a decrypted one (poc.py in clear next to poc.py.pgp).
	decryptedNames := map[string]bool{}
	for _, p := range parts {
		if p.role == partEncFile && p.fail == nil {
			decryptedNames[strings.ToLower(decryptedName(p.name))] = true
		}
	}
	distinct := func(name, why string) string {
		if decryptedNames[strings.ToLower(name)] {
			return name + " (" + why + ")"
		}
		return name
	}
	for _, p := range parts {
		if p.role != partBlank {
			kept++
		}
		if p.res != nil && p.fail == nil && p.res.sig != nil {
			sigs = append(sigs, p.res.sig)
		}
		switch p.role {
		case partEncText:
			w.text(p.res.plain)
			before, after := p.data[:p.blk.start], p.data[p.blk.end:]
			if len(bytes.TrimSpace(before)) == 0 && len(bytes.TrimSpace(after)) == 0 {
				pieces = append(pieces, []byte("[...]\r\n"))
			} else {
				partial = true
				pieces = append(pieces, aroundText(before, after, p.e.params["charset"]))
			}
		case partEncFile:
			if p.fail == nil {
				name := decryptedName(p.name)
				w.file(name, guessType(name), p.res.plain)
				continue
			}
			partial = true
			name := distinct(p.name, "not decrypted")
			w.file(name, p.ctype, p.data)
			why := "it does not decrypt with the team key (password-encrypted, damaged, or failing its integrity check)"
			if errors.Is(p.fail, ErrWrongKey) && p.res != nil {
				why = "encrypted to key IDs " + keyIDs(p.res.encryptedTo) + ", not to the team key"
			}
			pieces = append(pieces, fmt.Appendf(nil, "[attachment %q not decrypted: %s; attached as it came]\r\n", name, why))
		case partMeta:
			name, t := p.name, keyOrSignature(p.data)
			if name == "" {
				name = "key.asc"
			}
			w.file(distinct(name, "unencrypted"), t, p.data)
		case partClearText:
			text := p.data
			if p.ctype == "text/html" {
				text = []byte(htmlToText(string(text)))
			}
			pieces = append(pieces, clearPiece(text, p.e.params["charset"]))
		case partClearFile:
			name := distinct(p.name, "unencrypted")
			w.file(name, p.ctype, p.data)
			pieces = append(pieces, unencryptedNote(name, p.ctype))
		case partClearNested:
			text, atts, err := TextBody(p.e.raw)
			if err != nil {
				return err
			}
			if strings.TrimSpace(text) != "" {
				pieces = append(pieces, clearPiece([]byte(text), "utf-8"))
			}
			for _, a := range atts {
				name := distinct(headerSafe(a.Filename), "unencrypted")
				w.file(name, a.ContentType, a.Data)
				pieces = append(pieces, unencryptedNote(name, a.ContentType))
			}
		}
	}
	w.b.WriteString("--" + mixedBoundary + "--\r\n")
	out.Entity = w.b.Bytes()
	out.Inline = true
	out.Encrypted = clear == 0
	out.Partial = partial
	if partial {
		out.Outside = boundOutside(bytes.Join(pieces, []byte("\r\n")))
	}
	// A signature is whole only when it alone covers all that Entity
	// holds: signatures on several parts do not bind them together (any
	// of them could come from another message), and a part it does not
	// cover (a key, say) is anyone's, which a command could take.
	var sig *Signature
	for _, s := range sigs {
		if s.Err != nil {
			sig = s
			break
		}
	}
	if sig == nil && len(sigs) > 0 {
		sig = sigs[0]
	}
	if sig != nil {
		sig.Whole = len(sigs) == 1 && kept == 1 && !partial
		out.Signature = sig
	}
	return nil
}

// clearPiece is text in clear for Outside: without the blank lines around
// it, in UTF-8, ending with a line break.
func clearPiece(text []byte, charset string) []byte {
	t := bytes.TrimRight(bytes.TrimLeft(canonCRLF(text), "\r\n"), " \t\r\n")
	return append(toUTF8(t, charset), "\r\n"...)
}

func unencryptedNote(name, ctype string) []byte {
	return fmt.Appendf(nil, "[attachment %q (%s) came unencrypted; attached as it came]\r\n", name, headerSafe(ctype))
}

// mixedWriter writes the entity of a decrypted multipart/mixed.
type mixedWriter struct{ b bytes.Buffer }

func (w *mixedWriter) text(plain []byte) {
	w.b.WriteString("--" + mixedBoundary + "\r\n")
	w.b.WriteString("Content-Type: text/plain; charset=\"utf-8\"\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n")
	w.b.Write(encodeQP(canonCRLF(plain)))
	w.b.WriteString("\r\n")
}

// file writes an attachment, base64 in lines of 76 characters.
func (w *mixedWriter) file(name, ctype string, data []byte) {
	t, params, err := mime.ParseMediaType(ctype)
	if err != nil || !strings.Contains(t, "/") {
		t, params = "application/octet-stream", nil
	}
	cp := map[string]string{}
	for k, v := range params {
		cp[k] = headerSafe(v)
	}
	dp := map[string]string{}
	if name != "" {
		cp["name"], dp["filename"] = name, name
	}
	w.b.WriteString("--" + mixedBoundary + "\r\n")
	w.b.WriteString("Content-Type: " + formatMediaType(strings.ToLower(t), cp) + "\r\n")
	w.b.WriteString("Content-Disposition: " + formatMediaType("attachment", dp) + "\r\n")
	w.b.WriteString("Content-Transfer-Encoding: base64\r\n\r\n")
	enc := base64.StdEncoding.EncodeToString(data)
	for len(enc) > 76 {
		w.b.WriteString(enc[:76] + "\r\n")
		enc = enc[76:]
	}
	w.b.WriteString(enc + "\r\n")
}
