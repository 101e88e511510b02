package crypto

import (
	"strings"
	"testing"
)

// TestInlineMixedKeyPartOnlyWhenWhole: a part counts as a key or signature
// without content only when its whole body is one armored PUBLIC KEY BLOCK
// or SIGNATURE that decodes. A part in clear that merely starts like one,
// or is labelled application/pgp-keys, or has text before, after or inside
// the block, is content in clear: the message is not wholly encrypted and
// Outside says so.
func TestInlineMixedKeyPartOnlyWhenWhole(t *testing.T) {
	team := testKey(t, "team")
	alice := testKey(t, "alice")
	opts := OpenOptions{Decrypt: team, Now: t0}
	body := mustArmor(t, encryptTo(t, team, nil, []byte("The chunk decoder frees the buffer twice.\r\n")))
	key, err := alice.ArmorPublic()
	if err != nil {
		t.Fatal(err)
	}
	key = strings.TrimSpace(key)
	sig, err := armorString("PGP SIGNATURE", []byte{0xc2, 0x01, 0x04})
	if err != nil {
		t.Fatal(err)
	}
	checksum := strings.LastIndex(key, "\n=")
	keyPart := func(body string) string { return "Content-Type: application/pgp-keys\r\n\r\n" + body }
	clear := "-----BEGIN PGP PUBLIC KEY BLOCK-----\r\n\r\nCLEARTEXT-EXPLOIT: curl http://victim/ -d 'overflow'\r\nThis whole part travelled in clear.\r\n"
	for _, tt := range []struct {
		name string
		part string
		meta bool // a key or signature without content
	}{
		{"key-looking text part", textPart(clear), false},
		{"pgp-keys attachment", "Content-Type: application/pgp-keys; name=\"exploit.py\"\r\nContent-Disposition: attachment; filename=\"exploit.py\"\r\n\r\n" +
			"import socket  # CLEARTEXT-EXPLOIT sent in clear\r\n", false},
		{"pgp-signature label on text", "Content-Type: application/pgp-signature\r\n\r\nCLEARTEXT-EXPLOIT\r\n", false},
		{"text after the END line", keyPart(key + "\r\nCLEARTEXT-EXPLOIT\r\n"), false},
		{"text before the BEGIN line", keyPart("CLEARTEXT-EXPLOIT\r\n" + key), false},
		{"text after the checksum", keyPart(key[:checksum] + key[checksum:checksum+6] + "\nCLEARTEXT-EXPLOIT" + key[checksum+6:]), false},
		{"text in an armor header", keyPart(strings.Replace(key, "-----\n", "-----\nCLEARTEXT-EXPLOIT: x\n", 1)), false},
		{"two blocks", keyPart(key + "\r\n" + key), false},
		{"a key", keyPart(key), true},
		{"a key with white space around, as text", textPart("\r\n  " + strings.ReplaceAll(key, "\n", "\r\n") + "\r\n\r\n"), true},
		{"a signature", "Content-Type: application/pgp-signature; name=\"signature.asc\"\r\n\r\n" + sig, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			msg := inlineMixed(textPart(string(body)+"\r\n"), tt.part)
			o, err := Open(msg, opts)
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			_, atts := attachmentsOf(t, o.Entity)
			if tt.meta {
				// TextBody leaves a signature out.
				if !o.Encrypted || o.Partial || o.Outside != nil || len(atts) > 1 {
					t.Errorf("Encrypted=%v Partial=%v Outside=%q, %d attachments: want a wholly encrypted message with the key or signature attached",
						o.Encrypted, o.Partial, o.Outside, len(atts))
				}
				if !strings.Contains(string(o.Entity), "Content-Type: application/pgp-") {
					t.Errorf("the key or signature is not in the entity")
				}
				return
			}
			if o.Encrypted || !o.Partial || !strings.Contains(string(o.Outside), "CLEARTEXT-EXPLOIT") && !strings.Contains(string(o.Outside), "came unencrypted") {
				t.Errorf("content that came in clear, yet Encrypted=%v Partial=%v Outside=%q: want it counted as clear content",
					o.Encrypted, o.Partial, o.Outside)
			}
		})
	}
}

// TestInlineMixedClearFileSameNameAsDecrypted: an attachment in clear
// named poc.py next to poc.py.pgp encrypted to the team key: the opened
// message holds the decrypted poc.py and, named apart, the one that came
// in clear, which Outside names.
func TestInlineMixedClearFileSameNameAsDecrypted(t *testing.T) {
	team := testKey(t, "team")
	opts := OpenOptions{Decrypt: team, Now: t0}
	body := mustArmor(t, encryptTo(t, team, nil, []byte("See the PoC.\r\n")))
	real := encryptTo(t, team, nil, []byte("print('the real poc')\n"))
	msg := inlineMixed(textPart(string(body)+"\r\n"),
		filePart("poc.py", "text/x-python", []byte("print('planted in clear')\n")),
		filePart("poc.py.pgp", "application/octet-stream", real))
	o, err := Open(msg, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	_, atts := attachmentsOf(t, o.Entity) // fails on two of a name
	if a := atts["poc.py"]; string(a.Data) != "print('the real poc')\n" {
		t.Errorf("poc.py is %q, want the decrypted one", a.Data)
	}
	if a := atts["poc.py (unencrypted)"]; string(a.Data) != "print('planted in clear')\n" {
		t.Errorf("poc.py (unencrypted) is %q, want the one in clear; attachments %v", a.Data, keys(atts))
	}
	if o.Encrypted || !o.Partial || !strings.Contains(string(o.Outside), `"poc.py (unencrypted)"`) {
		t.Errorf("Encrypted=%v Partial=%v Outside=%q", o.Encrypted, o.Partial, o.Outside)
	}
}
