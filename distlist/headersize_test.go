package distlist

import (
	"strings"
	"testing"
	"time"

	"github.com/secgate/secgate/crypto"
)

// TestHeaderRoom: the buffer header returns has room for the entity it is
// told of, so that appending the sealed entity does not copy the whole
// message into a bigger one; the Autocrypt field, which carries the team
// key, makes the header longer than the fixed fields.
func TestHeaderRoom(t *testing.T) {
	team, err := crypto.GenerateKey("Security Team", "security@example.org", crypto.GenerateOptions{Created: time.Unix(1e9, 0)})
	if err != nil {
		t.Fatal(err)
	}
	ac, err := team.AutocryptHeader("security@example.org")
	if err != nil {
		t.Fatal(err)
	}
	base := outer{From: "Security Team <security@example.org>", To: "Rita Reporter <rita@reporter.example>", Subject: crypto.ObscuredSubject,
		Date: time.Unix(1e9, 0), MessageID: "0123456789abcdef@example.org", Auto: true}
	answer := base // an acknowledgement or a team copy
	answer.Autocrypt = ac
	long := base
	long.Autocrypt, long.InReplyTo, long.ReplyTo = ac, "<report-1@reporter.example>", "security@example.org"
	long.Subject = strings.Repeat("a long subject ", 40)
	for i := range 30 {
		long.References = append(long.References, "<ref-"+strings.Repeat("x", i)+"@reporter.example>")
	}
	for _, tt := range []struct {
		name string
		h    outer
	}{{"fixed fields", base}, {"autocrypt", answer}, {"autocrypt and references", long}} {
		t.Run(tt.name, func(t *testing.T) {
			// Entities of many sizes up to 64 KiB, and a big one: the
			// allocator's rounding up leaves more room for some sizes only.
			sizes := []int{1 << 20}
			for n := 0; n < 64<<10; n += 997 {
				sizes = append(sizes, n)
			}
			for _, n := range sizes {
				b := tt.h.header(n, true)
				if room := b.Cap() - b.Len(); room < n {
					t.Fatalf("entity of %d bytes: header %d bytes, room for %d", n, b.Len(), room)
				}
			}
		})
	}
}
