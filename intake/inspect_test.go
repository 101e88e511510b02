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
		{"report-pgpmime.eml", func(in *Inspection) bool { return in.Encrypted && in.Attachments == 0 }, false},
		{"report-inline.eml", func(in *Inspection) bool { return in.Encrypted }, false},
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
	if _, err := Inspect(make([]byte, 100), Limits{MaxSize: 50}); !errors.Is(err, ErrLimit) {
		t.Errorf("size limit: %v", err)
	}
}

// TestInspectFrom: the From address is the one the field names, or none;
// never an address taken out of a field that does not parse as one.
func TestInspectFrom(t *testing.T) {
	tests := []struct {
		field  string
		from   string
		fields int
	}{
		{"From: Rita <Rita@Example.org>", "rita@example.org", 1},
		{`From: "john q doe"@example.org`, `"john q doe"@example.org`, 1},
		{`From: John <"john q doe"@example.org>`, `"john q doe"@example.org`, 1},
		{"From: <a@b.example>@evil.example", "", 1},
		{"From: Liar <a@ b.example", "", 1},
		{"From: R\xe9ne <rene@example.org>", "rene@example.org", 1},
		{"From: a@example.org\r\nFrom: b@example.org", "a@example.org", 2},
		{"Sender: a@example.org", "", 0},
	}
	for _, tt := range tests {
		raw := []byte(tt.field + "\r\nTo: security@example.test\r\nSubject: x\r\n\r\nbody\r\n")
		in, _ := Inspect(raw, Limits{})
		if in.From != tt.from || in.FromFields != tt.fields {
			t.Errorf("%q: From %q (%d fields), want %q (%d)", tt.field, in.From, in.FromFields, tt.from, tt.fields)
		}
	}
}
