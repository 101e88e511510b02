package distlist

import (
	"bytes"
	"encoding/base64"
	"net/mail"
	"strings"
	"testing"

	"github.com/secgate/secgate/crypto"
	"github.com/secgate/secgate/distlist/smtpsink"
)

// TestAutocryptHeader: every mail from the team address, encrypted or
// not, offers the team key in an Autocrypt field whose addr is the From
// address (so a reporter's client learns the key from the first answer);
// with a From the team key does not carry, no mail offers a key for it.
func TestAutocryptHeader(t *testing.T) {
	for _, tc := range []struct {
		name, from string
		want       bool
	}{
		{"team address", "Security Team <Security@example.org>", true},
		{"other address", "Security Team <vmt@example.org>", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, smtpsink.Options{}, func(c *Config) { c.From = tc.from })
			rita := testKey(t, "rita@reporter.example", "x25519", false)
			e.enqueue(Mail{Kind: "reply", NoticeID: "case1/ack", Encrypt: true, Content: textContent("Your report", "Thank you."),
				Recipients: []Recipient{{Name: "Rita", Address: "rita@reporter.example", Key: rita.Public()}}})
			e.enqueue(Mail{Kind: "announcement", NoticeID: "case1/announce", Content: textContent("Advisory", "Fixed."),
				Recipients: []Recipient{{Name: "Announce", Address: "announce@lists.example"}}})
			e.drain()
			msgs := e.sink.Messages()
			if len(msgs) != 2 {
				t.Fatalf("%d messages", len(msgs))
			}
			for _, m := range msgs {
				msg, err := mail.ReadMessage(bytes.NewReader(m.Data))
				if err != nil {
					t.Fatal(err)
				}
				v := msg.Header.Get("Autocrypt")
				if !tc.want {
					if v != "" {
						t.Errorf("Autocrypt %q for a From the key does not carry", v)
					}
					continue
				}
				if !strings.HasPrefix(v, "addr=security@example.org;") {
					t.Fatalf("Autocrypt %q", v)
				}
				_, kd, _ := strings.Cut(v, "keydata=")
				bin, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(kd), ""))
				if err != nil {
					t.Fatal(err)
				}
				k, err := crypto.ParsePublicKey(bin)
				if err != nil || k.Fingerprint() != e.team.Fingerprint() {
					t.Fatalf("keydata: %v", err)
				}
				head, _, _ := bytes.Cut(m.Data, []byte("\r\n\r\n"))
				for _, l := range strings.Split(string(head), "\r\n") {
					if len(l) > 78 {
						t.Errorf("header line of %d characters: %.40s...", len(l), l)
					}
				}
			}
		})
	}
}
