package intake

import (
	"errors"
	"testing"
)

func TestInspect(t *testing.T) {
	tests := []struct {
		file  string
		check func(*Inspection) bool
		limit bool
	}{
		{"report-pgpmime.eml", func(in *Inspection) bool { return in.Encrypted && in.CipherHash != nil && in.Attachments == 0 }, false},
		{"report-inline.eml", func(in *Inspection) bool { return in.Encrypted && in.CipherHash != nil }, false},
		{"member-command.eml", func(in *Inspection) bool { return in.Signed && len(in.InReplyTo) == 1 }, false},
		{"subject-tag.eml", func(in *Inspection) bool { return len(in.CaseTags) == 1 && in.CaseTags[0] == "SEC-2026-0001" }, false},
		{"report-with-key.eml", func(in *Inspection) bool { return in.KeyAttached && in.Attachments == 1 }, false},
		{"wrong-charset.eml", func(in *Inspection) bool { return in.BadCharset }, false},
		{"dsn.eml", func(in *Inspection) bool {
			return in.ContentType == "multipart/report" && in.ReportType == "delivery-status"
		}, false},
		{"too-deep.eml", func(in *Inspection) bool { return in.Depth > 8 }, true},
		{"too-many-attachments.eml", func(in *Inspection) bool { return in.Attachments > 10 }, true},
		{"missing-message-id.eml", func(in *Inspection) bool { return in.MessageID == "" && in.From == "reporter@example.net" }, false},
	}
	lim := Limits{MaxSize: 1 << 20, MaxDepth: 8, MaxParts: 64, MaxAttachments: 10}
	for _, tt := range tests {
		in, err := Inspect(readFixture(t, tt.file), lim)
		if tt.limit != errors.Is(err, ErrLimit) {
			t.Errorf("%s: limit error %v, want %v", tt.file, err, tt.limit)
		}
		if !tt.check(in) {
			t.Errorf("%s: inspection %+v", tt.file, in)
		}
	}
	// The same ciphertext in another wrapping has the same hash.
	a, _ := Inspect(readFixture(t, "report-inline.eml"), lim)
	b, _ := Inspect(readFixture(t, "replay.eml"), lim)
	if string(a.CipherHash) != string(b.CipherHash) {
		t.Error("re-wrapped ciphertext hashes differently")
	}
	if _, err := Inspect(make([]byte, 100), Limits{MaxSize: 50}); !errors.Is(err, ErrLimit) {
		t.Errorf("size limit: %v", err)
	}
}
