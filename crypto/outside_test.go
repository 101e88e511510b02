package crypto

import (
	"bytes"
	"strings"
	"testing"
)

// TestOutside: text around an inline block is never merged with the
// decrypted text and never dropped in silence: Partial says it is there,
// Outside holds it (a second block as text, never decrypted).
func TestOutside(t *testing.T) {
	team := testKey(t, "team")
	alice := testKey(t, "alice")
	opts := OpenOptions{Decrypt: team, Verifiers: []*Key{alice.Public()}, Now: t0}
	enc := func(text string) string { return string(mustArmor(t, encryptTo(t, team, nil, []byte(text)))) }
	first, second := enc("FIRST report\n"), enc("SECOND report\n")
	clear := string(clearsignedBy(t, alice, "close SEC-2026-0001\n"))
	mail := func(charset, body string) []byte {
		return []byte(mailHeader + "Content-Type: text/plain; charset=" + charset + "\r\n\r\n" + body)
	}
	long := strings.Repeat("attacker text ", 10000)

	tests := []struct {
		name      string
		msg       []byte
		partial   bool
		encrypted bool
		outside   string // "" : nil
		entity    string // text the entity must hold
	}{
		{"whole", mail("utf-8", "\r\n"+first+"\r\n\r\n"), false, true, "", "FIRST report"},
		{"text around", mail("utf-8", "Please read:\r\n\r\n"+first+"\r\n-- \r\nsent from my phone\r\n"), true, true, "Please read:\r\n[...]\r\n-- \r\nsent from my phone\r\n", "FIRST report"},
		{"text after", mail("utf-8", first+"\r\nP.S.\r\n"), true, true, "[...]\r\nP.S.\r\n", "FIRST report"},
		{"second message", mail("utf-8", first+"\r\n"+second), true, true, "[...]\r\n" + second + "\r\n", "FIRST report"},
		{"second clearsigned block", mail("utf-8", first+"\r\n"+clear), true, true, "[...]\r\n" + strings.TrimRight(clear, "\r\n") + "\r\n", "FIRST report"},
		{"latin-1", mail("iso-8859-1", "Gr\xfc\xdfe\r\n"+first), true, true, "Grüße\r\n[...]\r\n", "FIRST report"},
		// A clearsigned block with more text: Entity is all the body,
		// unverified as a whole (Signature.Whole is false).
		{"clearsigned then a message", mail("utf-8", clear+"\r\n"+second), true, false, "", "BEGIN PGP MESSAGE"},
		{"clearsigned then another", mail("utf-8", clear+"\r\n"+clear), true, false, "", "close SEC"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, err := Open(tt.msg, opts)
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			if o.Partial != tt.partial || o.Encrypted != tt.encrypted {
				t.Errorf("Partial=%v Encrypted=%v, want %v %v", o.Partial, o.Encrypted, tt.partial, tt.encrypted)
			}
			if string(o.Outside) != tt.outside {
				t.Errorf("Outside = %q, want %q", o.Outside, tt.outside)
			}
			if !bytes.Contains(o.Entity, []byte(tt.entity)) {
				t.Errorf("Entity %q lacks %q", o.Entity, tt.entity)
			}
			if bytes.Contains(o.Entity, []byte("SECOND report")) && o.Encrypted {
				t.Error("a second block was decrypted")
			}
			if o.Signature != nil && o.Signature.Whole && o.Partial {
				t.Error("a partial body has a whole signature")
			}
		})
	}

	t.Run("bounded", func(t *testing.T) {
		o, err := Open(mail("utf-8", long+"\r\n"+first+"\r\n"+long), opts)
		if err != nil {
			t.Fatal(err)
		}
		if len(o.Outside) > MaxOutside || !bytes.HasPrefix(o.Outside, []byte("attacker text")) || !bytes.HasSuffix(o.Outside, []byte("more bytes left out]\r\n")) {
			t.Errorf("Outside of %d bytes: %q ... %q", len(o.Outside), o.Outside[:20], o.Outside[len(o.Outside)-40:])
		}
	})
}
