package crypto

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/ProtonMail/go-crypto/openpgp"
)

// Inline PGP with attachments, as Enigmail, Thunderbird (before 78) and
// K-9 send it: a multipart/mixed in clear whose text part holds an armored
// PGP MESSAGE and whose attachments are encrypted one by one (NAME.pgp
// binary, NAME.asc armored).

func textPart(body string) string {
	return "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 7bit\r\n\r\n" + body
}

// filePart is an attachment as a mail client writes it: base64 lines of
// 76 characters.
func filePart(name, ctype string, data []byte) string {
	b64 := base64.StdEncoding.EncodeToString(data)
	var b strings.Builder
	for len(b64) > 76 {
		b.WriteString(b64[:76] + "\r\n")
		b64 = b64[76:]
	}
	b.WriteString(b64)
	return fmt.Sprintf("Content-Type: %s; name=\"%s\"\r\nContent-Transfer-Encoding: base64\r\nContent-Disposition: attachment; filename=\"%s\"\r\n\r\n%s", ctype, name, name, b.String())
}

// ascPart is an armored attachment (NAME.asc) in 7bit.
func ascPart(name string, armored []byte) string {
	return fmt.Sprintf("Content-Type: application/octet-stream; name=\"%s\"\r\nContent-Transfer-Encoding: 7bit\r\nContent-Disposition: attachment; filename=\"%s\"\r\n\r\n%s", name, name, canonCRLF(armored))
}

func inlineMixed(parts ...string) []byte { return []byte(mailHeader + mixed(parts...)) }

// attachmentsOf returns TextBody's text and attachments of an entity,
// by file name.
func attachmentsOf(t testing.TB, entity []byte) (string, map[string]Attachment) {
	t.Helper()
	text, atts, err := TextBody(entity)
	if err != nil {
		t.Fatalf("TextBody: %v", err)
	}
	m := map[string]Attachment{}
	for _, a := range atts {
		if _, dup := m[a.Filename]; dup {
			t.Fatalf("two attachments named %q", a.Filename)
		}
		m[a.Filename] = a
	}
	return text, m
}

// TestInlineAttachments: a report whose text and attachments are each
// encrypted to the team key is opened whole: the text decrypted, each
// attachment decrypted and named without its .pgp, .gpg or .asc, the
// message encrypted; each part's identities are those of its ciphertext
// sent any other way (replay detection rests on them).
func TestInlineAttachments(t *testing.T) {
	team := testKey(t, "team")
	alice := testKey(t, "alice")
	opts := OpenOptions{Decrypt: team, Verifiers: []*Key{alice.Public()}, Now: t0}

	body := mustArmor(t, encryptTo(t, team, nil, []byte("The chunk decoder frees the buffer twice.\r\n")))
	poc := []byte("#!/usr/bin/env python3\nimport socket\nprint('poc')\n")
	crash := make([]byte, 700)
	for i := range crash {
		crash[i] = byte(i)
	}
	trace := []byte("==1==ERROR: AddressSanitizer: heap-use-after-free\n")
	pocBin := encryptTo(t, team, nil, poc)
	crashBin := encryptTo(t, team, nil, crash)
	traceArm := mustArmor(t, encryptTo(t, team, nil, trace))
	alicePub, err := alice.ArmorPublic()
	if err != nil {
		t.Fatal(err)
	}
	msg := inlineMixed(
		textPart(string(body)+"\r\n"),
		filePart("poc.py.pgp", "application/octet-stream", pocBin),
		filePart("crash.bin.gpg", "application/pgp-encrypted", crashBin),
		ascPart("trace.txt.asc", traceArm),
		"Content-Type: application/pgp-keys; name=\"0xA11CE.asc\"\r\nContent-Disposition: attachment; filename=\"0xA11CE.asc\"\r\n\r\n"+alicePub,
	)
	o, err := Open(msg, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if !o.Encrypted || !o.Inline || o.Partial || o.Outside != nil {
		t.Errorf("Encrypted=%v Inline=%v Partial=%v Outside=%q, want an encrypted inline message with nothing outside", o.Encrypted, o.Inline, o.Partial, o.Outside)
	}
	text, atts := attachmentsOf(t, o.Entity)
	if !strings.Contains(text, "frees the buffer twice") || strings.Contains(text, "BEGIN PGP") {
		t.Errorf("text %q", text)
	}
	for name, want := range map[string][]byte{"poc.py": poc, "crash.bin": crash, "trace.txt": trace} {
		a, ok := atts[name]
		if !ok {
			t.Errorf("no attachment %q in %v", name, keys(atts))
			continue
		}
		if !bytes.Equal(a.Data, want) {
			t.Errorf("%s: %d bytes %q, want the plaintext", name, len(a.Data), a.Data[:min(len(a.Data), 40)])
		}
	}
	if ct := atts["trace.txt"].ContentType; !strings.HasPrefix(ct, "text/plain") {
		t.Errorf("trace.txt is %q, want text/plain (guessed from the name)", ct)
	}
	if ct := atts["crash.bin"].ContentType; ct != "application/octet-stream" {
		t.Errorf("crash.bin is %q", ct)
	}
	if a, ok := atts["0xA11CE.asc"]; !ok || a.ContentType != "application/pgp-keys" {
		t.Errorf("the key attachment: %+v", a)
	}
	for name := range atts {
		if strings.HasSuffix(name, ".pgp") || strings.HasSuffix(name, ".gpg") {
			t.Errorf("attachment %q left encrypted", name)
		}
	}
	// Eight identities: two for each of the four ciphertexts, each the
	// same as when that ciphertext comes as PGP/MIME.
	if len(o.Identities) != 8 {
		t.Fatalf("%d identities, want 8", len(o.Identities))
	}
	for i, c := range [][]byte{body, mustArmor(t, pocBin), mustArmor(t, crashBin), traceArm} {
		// Its plaintext is no MIME entity: Open fails past decryption,
		// with the identities.
		alone, err := Open(pgpMIME(c), opts)
		if alone == nil || len(alone.Identities) != 2 {
			t.Fatalf("part %d as PGP/MIME: %v", i, err)
		}
		if !slices.EqualFunc(alone.Identities, o.Identities[2*i:2*i+2], bytes.Equal) {
			t.Errorf("part %d: identities %x, as PGP/MIME %x", i, o.Identities[2*i:2*i+2], alone.Identities)
		}
	}
	if o.Signature != nil {
		t.Errorf("signature %+v on an unsigned message", o.Signature)
	}
	// Without the team key: encrypted to a key we do not hold.
	if o, err := Open(msg, OpenOptions{Now: t0}); !errors.Is(err, ErrWrongKey) || o == nil || len(o.EncryptedTo) == 0 {
		t.Errorf("Open without the key: %v", err)
	}
}

func keys(m map[string]Attachment) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// TestInlineAttachmentsParts: what each kind of part next to encrypted
// ones does. Clear content makes the message not encrypted and is shown
// outside (Outside, Partial), never merged with the decrypted text; an
// attachment that does not decrypt with the team key stays as it came and
// Outside says so; nested encryption is never opened; limits hold.
func TestInlineAttachmentsParts(t *testing.T) {
	team := testKey(t, "team")
	alice := testKey(t, "alice")
	other := testKey(t, "other")
	mallory := testKey(t, "mallory")
	opts := OpenOptions{Decrypt: team, Verifiers: []*Key{alice.Public()}, Now: t0}

	enc := func(to, signer *Key, s string) []byte { return encryptTo(t, to, signer, []byte(s)) }
	text := func(to, signer *Key, s string) string { return textPart(string(mustArmor(t, enc(to, signer, s)))) }
	notes := enc(other, nil, "NOTES for the old team")
	tampered := enc(team, nil, strings.Repeat("TAMPERED ", 40))
	tampered[len(tampered)/2] ^= 0x20
	victim := mustArmor(t, enc(team, nil, "VICTIM report"))
	shot := []byte("\x89PNG\r\n\x1a\nnot really a picture")
	// Data of a clear attachment that tries to close the decrypted
	// entity's multipart and add a text part of its own.
	inject := "x\r\n--" + mixedBoundary + "\r\nContent-Type: text/plain\r\n\r\nINJECTED text\r\n--" + mixedBoundary + "--\r\n"

	tests := []struct {
		name      string
		msg       []byte
		err       error
		encrypted bool
		partial   bool
		text      string   // in the decrypted text
		notText   []string // never in the decrypted text
		outside   []string // in Outside
		atts      map[string]string
	}{
		{name: "text only, in a multipart",
			msg:       inlineMixed(text(team, nil, "BODY one")),
			encrypted: true, text: "BODY one"},
		{name: "attachment only, blank text",
			msg:       inlineMixed(textPart("\r\n \r\n"), filePart("a.txt.pgp", "application/octet-stream", enc(team, nil, "ATTACHED"))),
			encrypted: true, atts: map[string]string{"a.txt": "ATTACHED"}},
		{name: "clear text part (a footer someone added)",
			msg:       inlineMixed(text(team, nil, "BODY two"), textPart("-- \r\nFOOTER of the list\r\n")),
			encrypted: false, partial: true, text: "BODY two", notText: []string{"FOOTER"}, outside: []string{"[...]", "FOOTER of the list"}},
		{name: "clear text before the encrypted text",
			msg:       inlineMixed(textPart("Hi, see below.\r\n"), text(team, nil, "BODY three")),
			encrypted: false, partial: true, text: "BODY three", notText: []string{"see below"}, outside: []string{"Hi, see below.\r\n\r\n[...]"}},
		{name: "text around the block",
			msg:       inlineMixed(textPart("Please read:\r\n\r\n"+string(mustArmor(t, enc(team, nil, "BODY four")))+"\r\nthanks\r\n"), filePart("a.pgp", "application/octet-stream", enc(team, nil, "A"))),
			encrypted: true, partial: true, text: "BODY four", notText: []string{"Please read", "thanks"}, outside: []string{"Please read:\r\n[...]\r\nthanks"}},
		{name: "clear html part",
			msg:       inlineMixed(text(team, nil, "BODY five"), "Content-Type: text/html; charset=utf-8\r\n\r\n<p>HTML <b>in clear</b></p>"),
			encrypted: false, partial: true, text: "BODY five", notText: []string{"HTML"}, outside: []string{"HTML in clear"}},
		{name: "clear attachment",
			msg:       inlineMixed(text(team, nil, "BODY six"), filePart("shot.png", "image/png", shot)),
			encrypted: false, partial: true, text: "BODY six", outside: []string{`[attachment "shot.png" (image/png) came unencrypted`},
			atts: map[string]string{"shot.png": string(shot)}},
		{name: "clear attachment named .pgp that is not encrypted",
			msg:       inlineMixed(text(team, nil, "BODY seven"), filePart("readme.pgp", "text/plain", []byte("just text"))),
			encrypted: false, partial: true, text: "BODY seven", outside: []string{`[attachment "readme.pgp" (text/plain) came unencrypted`},
			atts: map[string]string{"readme.pgp": "just text"}},
		{name: "clear attachment trying to inject a part",
			msg:       inlineMixed(text(team, nil, "BODY eight"), "Content-Type: text/plain; name=\"x.txt\"\r\nContent-Disposition: attachment; filename=\"x.txt\"\r\n\r\n"+inject),
			encrypted: false, partial: true, text: "BODY eight", notText: []string{"INJECTED"}, atts: map[string]string{"x.txt": "INJECTED text"}},
		{name: "attachment to another key",
			msg:       inlineMixed(text(team, nil, "BODY nine"), filePart("notes.txt.pgp", "application/octet-stream", notes)),
			encrypted: true, partial: true, text: "BODY nine", notText: []string{"NOTES"},
			outside: []string{`[attachment "notes.txt.pgp" not decrypted: encrypted to key IDs ` + fmt.Sprintf("%016X", other.entity.Subkeys[0].PublicKey.KeyId) + `, not to the team key`},
			atts:    map[string]string{"notes.txt.pgp": string(notes)}},
		{name: "attachment that fails its integrity check",
			msg:       inlineMixed(text(team, nil, "BODY ten"), filePart("t.pgp", "application/octet-stream", tampered)),
			encrypted: true, partial: true, text: "BODY ten", outside: []string{`[attachment "t.pgp" not decrypted: it does not decrypt`},
			atts: map[string]string{"t.pgp": string(tampered)}},
		{name: "password-encrypted attachment",
			msg:       inlineMixed(text(team, nil, "BODY eleven"), ascPart("p.asc", mustArmor(t, skeskOnly(t, "PASSWORD protected")))),
			encrypted: true, partial: true, text: "BODY eleven", outside: []string{`[attachment "p.asc" not decrypted`}},
		{name: "every part to another key",
			msg: inlineMixed(textPart("\r\n"), filePart("a.pgp", "application/octet-stream", notes)),
			err: ErrWrongKey},
		{name: "text to another key, attachment to us",
			msg: inlineMixed(text(other, nil, "OTHER body"), filePart("a.pgp", "application/octet-stream", enc(team, nil, "A"))),
			err: ErrWrongKey},
		{name: "nested in an attachment",
			msg: inlineMixed(text(team, nil, "BODY"), filePart("v.pgp", "application/octet-stream", encryptTo(t, team, nil, victim))),
			err: ErrNested},
		{name: "binary nested in an armored attachment",
			msg: inlineMixed(text(team, nil, "BODY"), ascPart("v.asc", mustArmor(t, encryptTo(t, team, nil, dearmorT(t, victim))))),
			err: ErrNested},
		{name: "nested in the text",
			msg: inlineMixed(textPart(string(mustArmor(t, encryptTo(t, team, nil, victim)))), filePart("a.pgp", "application/octet-stream", enc(team, nil, "A"))),
			err: ErrNested},
		{name: "too many encrypted parts",
			msg: inlineMixed(slices.Repeat([]string{filePart("a.pgp", "application/octet-stream", enc(team, nil, "A"))}, DefaultLimits().MaxEncryptedParts+1)...),
			err: ErrTooComplex},
		{name: "signed by an unknown key in an attachment",
			msg:       inlineMixed(text(team, alice, "BODY signed"), filePart("m.pgp", "application/octet-stream", enc(team, mallory, "M"))),
			encrypted: true, text: "BODY signed", atts: map[string]string{"m": "M"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, err := Open(tt.msg, opts)
			if tt.err != nil {
				if !errors.Is(err, tt.err) {
					t.Fatalf("Open: %v, want %v", err, tt.err)
				}
				if o != nil && o.Entity != nil {
					t.Fatalf("an entity with %v", err)
				}
				if errors.Is(err, ErrNested) {
					if o == nil || !o.Encrypted || len(o.Identities) == 0 {
						t.Fatalf("nested: Opened %+v", o)
					}
					vo, err := Open(inlineMail(string(victim)), opts)
					if err != nil || len(vo.Identities) != 2 {
						t.Fatal(err)
					}
					for _, id := range o.Identities {
						if slices.ContainsFunc(vo.Identities, func(v []byte) bool { return bytes.Equal(v, id) }) {
							t.Fatal("the inner message was decrypted")
						}
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			if o.Encrypted != tt.encrypted || o.Partial != tt.partial || !o.Inline {
				t.Errorf("Encrypted=%v Partial=%v Inline=%v, want %v %v true", o.Encrypted, o.Partial, o.Inline, tt.encrypted, tt.partial)
			}
			if (o.Outside != nil) != tt.partial {
				t.Errorf("Outside %q with Partial=%v", o.Outside, o.Partial)
			}
			txt, atts := attachmentsOf(t, o.Entity)
			if !strings.Contains(txt, tt.text) {
				t.Errorf("text %q lacks %q", txt, tt.text)
			}
			for _, s := range tt.notText {
				if strings.Contains(txt, s) {
					t.Errorf("text %q holds %q", txt, s)
				}
			}
			for _, s := range tt.outside {
				if !bytes.Contains(o.Outside, []byte(s)) {
					t.Errorf("Outside %q lacks %q", o.Outside, s)
				}
			}
			for name, data := range tt.atts {
				if a, ok := atts[name]; !ok || !bytes.Contains(a.Data, []byte(data)) {
					t.Errorf("attachment %q: %q (have %v)", name, a.Data, keys(atts))
				}
			}
		})
	}
}

// skeskOnly is a message encrypted with a password alone.
func skeskOnly(t testing.TB, plain string) []byte {
	t.Helper()
	var out bytes.Buffer
	w, err := openpgp.SymmetricallyEncrypt(&out, []byte("password"), &openpgp.FileHints{IsBinary: true}, baseConfig(t0))
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte(plain))
	w.Close()
	return out.Bytes()
}

func dearmorT(t testing.TB, armored []byte) []byte {
	t.Helper()
	b, err := dearmor(armored, "PGP MESSAGE")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestInlineAttachmentsSignature: a signature inside an inline block is
// whole only when it alone covers all the message holds (blank text
// aside); signatures on several parts do not bind the parts together (one
// could come from another message), and a key part next to it is anyone's
// (a command could take it), so none of them is whole.
func TestInlineAttachmentsSignature(t *testing.T) {
	team := testKey(t, "team")
	alice := testKey(t, "alice")
	mallory := testKey(t, "mallory")
	opts := OpenOptions{Decrypt: team, Verifiers: []*Key{alice.Public()}, Now: t0}
	text := func(signer *Key, s string) string {
		return textPart(string(mustArmor(t, encryptTo(t, team, signer, []byte(s)))))
	}
	file := func(signer *Key, s string) string {
		return filePart("f.txt.pgp", "application/octet-stream", encryptTo(t, team, signer, []byte(s)))
	}
	key, _ := alice.ArmorPublic()
	keyPart := "Content-Type: application/pgp-keys\r\n\r\n" + key
	tests := []struct {
		name  string
		msg   []byte
		valid bool // a valid signature by alice
		whole bool
		err   error
	}{
		{"one signed part", inlineMixed(textPart("\r\n"), text(alice, "signed"), textPart(" \r\n")), true, true, nil},
		{"one signed part and a key", inlineMixed(text(alice, "signed"), keyPart), true, false, nil},
		{"signed text, unsigned attachment", inlineMixed(text(alice, "signed"), file(nil, "unsigned")), true, false, nil},
		{"unsigned text, signed attachment", inlineMixed(text(nil, "unsigned"), file(alice, "signed")), true, false, nil},
		{"every part signed", inlineMixed(text(alice, "signed"), file(alice, "signed too")), true, false, nil},
		{"signed text, clear part", inlineMixed(text(alice, "signed"), textPart("clear\r\n")), true, false, nil},
		{"signed text, attachment signed by an unknown key", inlineMixed(text(alice, "signed"), file(mallory, "by mallory")), false, false, ErrUnknownSigner},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, err := Open(tt.msg, opts)
			if err != nil {
				t.Fatal(err)
			}
			s := o.Signature
			if s == nil {
				t.Fatal("no signature")
			}
			if tt.valid && (s.Err != nil || s.Fingerprint != alice.Fingerprint()) {
				t.Errorf("signature %+v, want valid by alice", s)
			}
			if tt.err != nil && !errors.Is(s.Err, tt.err) {
				t.Errorf("signature error %v, want %v", s.Err, tt.err)
			}
			if s.Whole != tt.whole {
				t.Errorf("Whole=%v, want %v", s.Whole, tt.whole)
			}
		})
	}
}

// TestInlineAttachmentsLimits: the plaintext limit holds for all the
// parts of a message together.
func TestInlineAttachmentsLimits(t *testing.T) {
	team := testKey(t, "team")
	part := filePart("a.pgp", "application/octet-stream", encryptTo(t, team, nil, bytes.Repeat([]byte("A"), 600)))
	lim := Limits{MaxDecompressedBytes: 1000}
	if _, err := Open(inlineMixed(part), OpenOptions{Decrypt: team, Now: t0, Limits: lim}); err != nil {
		t.Fatalf("one part: %v", err)
	}
	if _, err := Open(inlineMixed(part, part), OpenOptions{Decrypt: team, Now: t0, Limits: lim}); !errors.Is(err, ErrTooComplex) {
		t.Fatalf("two parts of 600 bytes with a limit of 1000: %v", err)
	}
}

// TestInlineAttachmentsUnchanged: a multipart/mixed without any encrypted
// part, and one inside decrypted content, are what they were: nothing is
// decrypted, the entity is the message's.
func TestInlineAttachmentsUnchanged(t *testing.T) {
	team := testKey(t, "team")
	opts := OpenOptions{Decrypt: team, Now: t0}
	other := testKey(t, "other")
	clear := inlineMixed(textPart("hello\r\n"), filePart("x.pgp", "application/octet-stream", encryptTo(t, other, nil, []byte("X"))))
	o, err := Open(clear, opts)
	if err != nil || o.Encrypted || o.Partial || o.Outside != nil || !bytes.Contains(o.Entity, []byte("hello")) {
		t.Fatalf("clear text with an attachment to another key: %v %+v", err, o)
	}
	inner := []byte(mixed(textPart("see attached"), filePart("x.pgp", "application/octet-stream", encryptTo(t, team, nil, []byte("SECOND layer")))))
	o, err = Open(pgpMIME(mustArmor(t, encryptTo(t, team, nil, inner))), opts)
	if err != nil {
		t.Fatal(err)
	}
	_, atts := attachmentsOf(t, o.Entity)
	if _, ok := atts["x.pgp"]; !ok || bytes.Contains(atts["x.pgp"].Data, []byte("SECOND layer")) {
		t.Fatalf("an attachment inside decrypted content was decrypted: %v", keys(atts))
	}
}
