package distlist

import (
	"strings"
	"testing"
)

// TestIsMessageID: every Message-ID messageID makes has the shape
// CaseForMessageID and KindForMessageID look up; what a reporter's client
// or another server writes does not, and costs no statement.
func TestIsMessageID(t *testing.T) {
	secret := []byte("0123456789abcdef0123456789abcdef")
	for _, rcpt := range []string{"rita@reporter.example", "alice@bench.test", "", "d00001@x25519.distro.example"} {
		for _, domain := range []string{"bench.test", "lists.example.org", ""} {
			if id := messageID(secret, "ack-BENCH-2026-0001", rcpt, domain); !isMessageID(id) {
				t.Errorf("messageID %q: not of its own shape", id)
			}
		}
	}
	for _, id := range []string{
		"", "bench-1-0123abcd@reporter.example", "abc@example.org",
		strings.Repeat("a", 25) + "@example.org", strings.Repeat("a", 27) + "@example.org",
		strings.Repeat("A", 26) + "@example.org", strings.Repeat("a", 25) + "1@example.org", strings.Repeat("a", 25) + "8@example.org",
		strings.Repeat("a", 26), strings.Repeat("a", 25) + ".@example.org", "CAF" + strings.Repeat("a", 23) + "@mail.gmail.com",
	} {
		if isMessageID(id) {
			t.Errorf("%q taken for a Message-ID of the outbox", id)
		}
	}
}

// FuzzIsMessageID: what isMessageID takes for the outbox's has 26
// characters of the lower-case base32 alphabet before its first '@', as
// messageID writes them; and a Message-ID messageID makes of any notice and
// recipient is taken.
func FuzzIsMessageID(f *testing.F) {
	for _, s := range []string{"", "abc@example.org", strings.Repeat("a", 26) + "@x", strings.Repeat("7", 26) + "@", "<" + strings.Repeat("b", 26) + "@x>"} {
		f.Add(s, "notice", "rcpt@example.org")
	}
	f.Fuzz(func(t *testing.T, id, notice, rcpt string) {
		if isMessageID(id) {
			local, _, ok := strings.Cut(id, "@")
			if !ok || len(local) != 26 || strings.Trim(local, "abcdefghijklmnopqrstuvwxyz234567") != "" {
				t.Errorf("%q taken for an outbox Message-ID", id)
			}
		}
		if m := messageID([]byte("secret"), notice, rcpt, "example.org"); !isMessageID(m) {
			t.Errorf("messageID %q not taken", m)
		}
	})
}
