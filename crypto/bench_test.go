package crypto

import (
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
