package crypto

import (
	"bytes"
	"strings"
	"testing"
)

// signedPartHeader returns the header fields of the signed part (the first
// part) of a multipart/signed entity, unfolded, one per line.
func signedPartHeader(t *testing.T, ent []byte) []string {
	t.Helper()
	part, _ := splitLikeAClient(t, ent)
	h, _ := splitEntity(part)
	var fields []string
	for _, l := range strings.Split(strings.TrimSuffix(string(h), "\r\n"), "\r\n") {
		if l != "" && (l[0] == ' ' || l[0] == '\t') && len(fields) > 0 {
			fields[len(fields)-1] += " " + strings.TrimSpace(l)
			continue
		}
		fields = append(fields, l)
	}
	return fields
}

func hasField(fields []string, want string) bool {
	for _, f := range fields {
		if f == want {
			return true
		}
	}
	return false
}

// TestHeaderProtectionOuter: the sealed variant (hp="cipher") records in
// HP-Outer header fields (RFC 9788 §2.2) what its outer header says in
// place of the protected fields: the obscured Subject "[...]" and the same
// From. The public variant (hp="clear") has none. Both verify.
func TestHeaderProtectionOuter(t *testing.T) {
	team, alice := testKey(t, "team"), testKey(t, "alice")
	if ObscuredSubject != "[...]" {
		t.Fatalf("ObscuredSubject = %q, want [...] (RFC 9788 hcp_baseline)", ObscuredSubject)
	}
	tests := []struct {
		name    string
		c       Content
		outFrom string // the HP-Outer From field, "" for none
	}{
		{"text", Content{Subject: "[SEC-2026-0007] Embargoed: heap overflow", From: "Security Team <security@example.org>", Entity: []byte(textEntityCRLF)},
			"HP-Outer: From: Security Team <security@example.org>"},
		{"mixed, non-ASCII subject", Content{Subject: "Prüfung: Überlauf", From: "security@example.org", Entity: bigEntity(64)},
			"HP-Outer: From: security@example.org"},
		{"no From", Content{Subject: "s", Entity: []byte(textEntityCRLF)}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := team.Sign(tt.c, t0)
			if err != nil {
				t.Fatal(err)
			}
			sealed, err := s.SealFor(alice.Public(), t0)
			if err != nil {
				t.Fatal(err)
			}
			inner := signedPartHeader(t, sealedInner(t, alice, sealed))
			public := signedPartHeader(t, entityOf(t, s))

			if !hasField(inner, "HP-Outer: Subject: [...]") {
				t.Errorf("sealed protected header lacks HP-Outer: Subject: [...]:\n%s", strings.Join(inner, "\n"))
			}
			if !strings.Contains(inner[0], `hp="cipher"`) {
				t.Errorf("sealed Content-Type %q, want hp=\"cipher\"", inner[0])
			}
			outs := 0
			for _, f := range inner {
				if strings.HasPrefix(f, "HP-Outer:") {
					outs++
				}
			}
			want := 1
			if tt.outFrom != "" {
				want = 2
				if !hasField(inner, tt.outFrom) {
					t.Errorf("sealed protected header lacks %q:\n%s", tt.outFrom, strings.Join(inner, "\n"))
				}
			}
			if outs != want {
				t.Errorf("%d HP-Outer fields, want %d:\n%s", outs, want, strings.Join(inner, "\n"))
			}
			for _, f := range public {
				if strings.HasPrefix(strings.ToLower(f), "hp-outer") {
					t.Errorf("public variant has %q", f)
				}
			}
			if !strings.Contains(public[0], `hp="clear"`) {
				t.Errorf("public Content-Type %q, want hp=\"clear\"", public[0])
			}
			// The real Subject is inside both; the body is the same.
			for name, ent := range map[string][]byte{"sealed": outerMessage(sealed), "public": outerMessage(entityOf(t, s))} {
				o, err := Open(ent, OpenOptions{Decrypt: alice, Verifiers: []*Key{team.Public()}, Now: t0})
				if err != nil || o.Signature == nil || o.Signature.Err != nil || !o.Signature.Whole {
					t.Fatalf("%s: open: %v %+v", name, err, o)
				}
				if subj, _, ok := ProtectedHeaders(o.Entity); !ok || subj != tt.c.Subject {
					t.Errorf("%s: protected Subject %q, want %q", name, subj, tt.c.Subject)
				}
				if bytes.Contains(o.Entity, []byte("HP-Outer")) != (name == "sealed") {
					t.Errorf("%s: HP-Outer present = %v", name, !(name == "sealed"))
				}
			}
		})
	}
}
