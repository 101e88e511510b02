package cases

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestNewCommandMailHeaders(t *testing.T) {
	raw := "From: =?utf-8?q?Al=C3=AFce?= <alice@example.org>\r\nSubject: =?utf-8?q?Re:_[SEC-2026-0001]_caf=C3=A9?=\r\n" +
		"Message-ID: <a@x>\r\nIn-Reply-To: <b@y> (comment)\r\nReferences: <c@z>\r\n <b@y>\r\n\r\nbody"
	m, err := NewCommandMail([]byte(raw), nil, nil, t0)
	if err != nil {
		t.Fatal(err)
	}
	want := CommandMail{From: "Alïce <alice@example.org>", Subject: "Re: [SEC-2026-0001] café", MessageID: "<a@x>",
		InReplyTo: "<b@y>", References: []string{"<c@z>", "<b@y>"}, Received: t0, FromFields: 1}
	if !reflect.DeepEqual(m, want) {
		t.Errorf("got  %+v\nwant %+v", m, want)
	}
	m, err = NewCommandMail([]byte("From: a@example.org\r\nFrom: b@example.org\r\nTo: Team <security@example.org>, x@example.org\r\nCc: y@example.org\r\n\r\nbody"), nil, nil, t0)
	if err != nil || m.FromFields != 2 || !reflect.DeepEqual(m.Recipients, []string{"security@example.org", "x@example.org", "y@example.org"}) {
		t.Errorf("From fields %d, recipients %q (%v)", m.FromFields, m.Recipients, err)
	}
	if _, err := NewCommandMail([]byte("no header at all"), nil, nil, t0); err == nil {
		t.Error("no error for a message without header")
	}
}

func FuzzNewCommandMail(f *testing.F) {
	f.Add("From: a@b\r\nReferences: <x@y> <z@w>\r\n\r\n")
	f.Add("In-Reply-To: <<<>>>\r\nSubject: =?x?q?=FF?=\r\n\r\n")
	f.Fuzz(func(t *testing.T, raw string) {
		m, err := NewCommandMail([]byte(raw), nil, nil, time.Time{})
		if err != nil {
			return
		}
		for _, r := range m.References {
			if !strings.HasPrefix(r, "<") || !strings.HasSuffix(r, ">") {
				t.Fatalf("reference %q", r)
			}
		}
		if len(m.References) > 100 {
			t.Fatalf("%d references", len(m.References))
		}
	})
}

func BenchmarkParseCommands(b *testing.B) {
	text := strings.Repeat("/status confirmed\n/class B1\n/cvss CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H\n/impact a\nb\nc\n\nsome comment\n> quoted\n", 4)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseCommands(text); err != nil {
			b.Fatal(err)
		}
	}
}
