package crypto

import (
	"strings"
	"testing"
)

func benchContent() Content {
	return Content{Subject: "[SEC-2026-0007] Embargoed notice", From: "security@example.org", Entity: []byte(textEntityCRLF)}
}

func BenchmarkSign(b *testing.B) {
	for _, name := range []string{"team-x25519", "team-rsa"} {
		k := loadTestKey(b, name)
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				if _, err := k.Sign(benchContent(), fixtureTime); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkSealFor(b *testing.B) {
	team := loadTestKey(b, "team-x25519")
	s, err := team.Sign(benchContent(), fixtureTime)
	if err != nil {
		b.Fatal(err)
	}
	for _, tc := range []struct{ name, key string }{{"x25519", "member-x25519"}, {"rsa3072", "member-rsa"}} {
		rcpt := loadTestKey(b, tc.key).Public()
		b.Run(tc.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := s.SealFor(rcpt, fixtureTime); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkOpen(b *testing.B) {
	for _, tc := range []struct{ name, team, member string }{{"x25519", "team-x25519", "member-x25519"}, {"rsa3072", "team-rsa", "member-rsa"}} {
		team, member := loadTestKey(b, tc.team), loadTestKey(b, tc.member)
		s, err := member.Sign(benchContent(), fixtureTime)
		if err != nil {
			b.Fatal(err)
		}
		sealed, err := s.SealFor(team, fixtureTime)
		if err != nil {
			b.Fatal(err)
		}
		msg := outerMessage(sealed)
		opts := OpenOptions{Decrypt: team, Verifiers: []*Key{member.Public()}, Now: fixtureTime}
		b.Run(tc.name, func(b *testing.B) {
			b.SetBytes(int64(len(msg)))
			for b.Loop() {
				o, err := Open(msg, opts)
				if err != nil || o.Signature == nil || o.Signature.Err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkOpenHostile measures Open on large hostile inputs: work must grow
// linearly with the size, and each ends in an error or plain content.
func BenchmarkOpenHostile(b *testing.B) {
	const size = 8 << 20
	inputs := map[string][]byte{
		"many-lines":        []byte("Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\n" + strings.Repeat("--bx\r\n", size/6)),
		"many-armor-starts": []byte("Content-Type: text/plain\r\n\r\n" + strings.Repeat("x-----BEGIN PGP ", size/16)),
		"unterminated":      []byte("Content-Type: text/plain\r\n\r\n-----BEGIN PGP MESSAGE-----\r\n" + strings.Repeat("A", size)),
		"long-header":       []byte("Subject: " + strings.Repeat("a", 1<<20) + "\r\n\r\nx"),
		"many-headers":      []byte(strings.Repeat("X-A: b\r\n", 100000) + "\r\nx"),
	}
	team := loadTestKey(b, "team-x25519")
	for name, in := range inputs {
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(in)))
			for b.Loop() {
				_, _ = Open(in, OpenOptions{Decrypt: team, Now: fixtureTime})
			}
		})
	}
}

// BenchmarkSignEntity signs a notice, as every answer of the gateway is
// (the acknowledgement and the team copies of a report): its allocations
// are what the collector pays for.
func BenchmarkSignEntity(b *testing.B) {
	k := loadTestKey(b, "team-x25519")
	b.ReportAllocs()
	for b.Loop() {
		s, err := k.Sign(benchContent(), fixtureTime)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := s.Entity(); err != nil {
			b.Fatal(err)
		}
	}
}
