package crypto

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestFixtures opens the kept messages of testdata/mail (made by gpg and by
// this package with the kept keys).
func TestFixtures(t *testing.T) {
	team := loadTestKey(t, "team-x25519")
	member := loadTestKey(t, "member-x25519")
	mf := member.Fingerprint()
	tests := []struct {
		file              string
		encrypted, inline bool
		sigFpr            string // "" : no signature expected
		whole             bool
		text, attachment  string
	}{
		{"plain.eml", false, false, "", false, "I found a bug", ""},
		{"html.eml", false, false, "", false, "Hello & welcome", ""},
		{"sealed.eml", true, false, mf, true, "close SEC-2026-0002", ""},
		{"signed.eml", false, false, mf, true, "close SEC-2026-0002", ""},
		{"wrapped.eml", false, false, mf, false, "close SEC-2026-0009", ""},
		{"forwarded.eml", false, false, "", false, "FYI", "message/rfc822"},
		{"gpg-combined.eml", true, false, mf, true, "close SEC-2026-0002", ""},
		{"gpg-nested.eml", true, false, mf, true, "close SEC-2026-0002", ""},
		{"gpg-inline-encrypted.eml", true, true, mf, true, "close SEC-2026-0002", ""},
		{"gpg-clearsigned.eml", false, true, mf, true, "close SEC-2026-0002", ""},
		{"gpg-clearsigned-qp.eml", false, true, mf, true, "close SEC-2026-0002", ""},
		{"gpg-signed-textmode.eml", false, false, mf, true, "close SEC-2026-0002", ""},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join("testdata", "mail", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			o, err := Open(raw, OpenOptions{Decrypt: team, Verifiers: []*Key{member.Public()}, Now: fixtureTime})
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			if o.Encrypted != tt.encrypted || o.Inline != tt.inline {
				t.Errorf("Encrypted=%v Inline=%v", o.Encrypted, o.Inline)
			}
			switch {
			case tt.sigFpr == "" && o.Signature != nil:
				t.Errorf("unexpected signature %+v", o.Signature)
			case tt.sigFpr != "" && (o.Signature == nil || o.Signature.Err != nil || o.Signature.Fingerprint != tt.sigFpr || o.Signature.Whole != tt.whole):
				t.Errorf("signature %+v, want valid by %s whole=%v", o.Signature, tt.sigFpr, tt.whole)
			}
			text, atts, err := TextBody(o.Entity)
			if err != nil || !strings.Contains(text, tt.text) {
				t.Errorf("TextBody = %q, %v", text, err)
			}
			if tt.attachment != "" && (len(atts) != 1 || atts[0].ContentType != tt.attachment) {
				t.Errorf("attachments %+v", atts)
			}
			// Without the team key nothing encrypted opens.
			if tt.encrypted {
				if _, err := Open(raw, OpenOptions{Verifiers: []*Key{member}, Now: fixtureTime}); !errors.Is(err, ErrWrongKey) {
					t.Errorf("Open without key: %v", err)
				}
			}
		})
	}
}
