package web

import "testing"

// TestAddressesInText: the team's and the lists' addresses stay, any
// other address in a text reads as the reporter or "other address N",
// the same address always with the same N.
func TestAddressesInText(t *testing.T) {
	a := (&addresses{known: map[string]bool{"security@example.org": true, "dana@distro.example": true}}).forCase("Rita@Reporter.example")
	for _, tc := range []struct{ in, want string }{
		{"from security@example.org.", "from security@example.org."},
		{"from rita@reporter.example within 1h", "from reporter within 1h"},
		{"x <eve@evil.example>, eve@evil.example; bob@b.example", "x <other address 1>, other address 1; other address 2"},
		{"DANA@distro.example: key expired", "DANA@distro.example: key expired"},
		{"no address @ all", "no address @ all"},
	} {
		if got := a.text(tc.in); got != tc.want {
			t.Errorf("text(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
