package intake

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func testRouter(t testing.TB, seps string) *Router {
	t.Helper()
	r, err := NewRouter([]ProjectAddresses{
		{Project: "a", Addresses: []string{"security+a@example.org", "security-a@example.org", "Sec-A@Example.ORG"}},
		{Project: "b", Addresses: []string{"security+b@example.org", "security-b@example.org"}},
		{Project: "root", Addresses: []string{"security@example.org"}},
	}, seps)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestRoute(t *testing.T) {
	r := testRouter(t, "")
	tests := []struct {
		name, header string
		project      string
		held         bool
		field, addr  string
		reason       []string // substrings of the reason ("" for none at all)
	}{
		{name: "delivered-to", header: "Delivered-To: security+a@example.org\r\nTo: security+a@example.org\r\n",
			project: "a", field: "Delivered-To", addr: "security+a@example.org", reason: []string{""}},
		{name: "detail after the project's address", header: "Delivered-To: security+a+tag@example.org\r\n",
			project: "a", field: "Delivered-To", addr: "security+a+tag@example.org"},
		{name: "detail after the mailbox's address is the longest match's", header: "Delivered-To: security+c@example.org\r\n",
			project: "root", field: "Delivered-To"},
		{name: "alias without detail", header: "Delivered-To: security-b@example.org\r\n", project: "b", field: "Delivered-To"},
		{name: "domain case-insensitive", header: "Delivered-To: security-b@EXAMPLE.org\r\n", project: "b", field: "Delivered-To",
			addr: "security-b@example.org"},
		{name: "configured address case", header: "To: Sec-A@example.org\r\n", project: "a", field: "To"},
		{name: "local part case-insensitive", header: "To: sec-a@example.org\r\n", project: "a", field: "To",
			addr: "sec-a@example.org"},
		{name: "local part case-insensitive (envelope)", header: "Delivered-To: Security-B@example.org\r\n", project: "b",
			field: "Delivered-To", addr: "Security-B@example.org"},
		{name: "local part case-insensitive with a detail", header: "Delivered-To: Security+A+Tag@example.org\r\n", project: "a",
			field: "Delivered-To", addr: "Security+A+Tag@example.org"},
		{name: "unowned address keeps its case in the reason", header: "Delivered-To: Nobody@example.org\r\n", held: true,
			reason: []string{"no project owns Delivered-To Nobody@example.org"}},
		{name: "x-original-to", header: "X-Original-To: security-a@example.org\r\nDelivered-To: mailbox@example.org\r\n",
			project: "a", field: "X-Original-To"},
		{name: "angle brackets and quoted local part", header: "Delivered-To: <\"security-b\"@example.org>\r\n", project: "b",
			addr: "security-b@example.org"},
		{name: "the envelope decides over To", header: "Delivered-To: security+a@example.org\r\nTo: security+b@example.org\r\n",
			project: "a", field: "Delivered-To", reason: []string{"delivered for security+a@example.org (Delivered-To)",
				"the header named To security+b@example.org (project b), not this project's address", "the envelope decides"}},
		{name: "the envelope decides over Cc of two others", header: "Delivered-To: security+b@example.org\r\nTo: security-a@example.org\r\nCc: security@example.org\r\n",
			project: "b", reason: []string{"To security-a@example.org (project a), Cc security@example.org (project root)"}},
		{name: "to both at once", header: "Delivered-To: security+a@example.org\r\nTo: security+a@example.org, security+b@example.org\r\n",
			project: "a", held: true, reason: []string{"sent to several projects at once: delivered for security+a@example.org (Delivered-To)",
				"To security+a@example.org (project a), To security+b@example.org (project b)"}},
		{name: "to one, cc the other", header: "Delivered-To: security+b@example.org\r\nTo: security-a@example.org\r\nCc: Team B <security-b@example.org>\r\n",
			project: "b", held: true, reason: []string{"several projects"}},
		{name: "same project twice", header: "Delivered-To: security+a@example.org\r\nTo: security-a@example.org\r\nCc: security+a@example.org\r\n",
			project: "a", reason: []string{""}},
		{name: "only the topmost delivered-to", header: "Delivered-To: security+a@example.org\r\nTo: x@example.net\r\nDelivered-To: security+b@example.org\r\n",
			project: "a", reason: []string{""}},
		{name: "a forged lower delivered-to is not the envelope",
			header:  "Delivered-To: mailbox@example.org\r\nDelivered-To: security+b@example.org\r\nTo: security+a@example.org\r\n",
			project: "a", field: "To", reason: []string{"routed by To security+a@example.org: the envelope named Delivered-To mailbox@example.org, no project's address"}},
		{name: "envelope names two projects", header: "Delivered-To: security+a@example.org\r\nX-Original-To: security-b@example.org\r\n",
			held: true, reason: []string{"the envelope names Delivered-To security+a@example.org (project a), X-Original-To security-b@example.org (project b)"}},
		{name: "to decides without an envelope", header: "To: Security A <security+a@example.org>, friend@example.net\r\n",
			project: "a", field: "To", reason: []string{"routed by To security+a@example.org: the envelope named no project's address"}},
		{name: "cc decides without an envelope", header: "To: friend@example.net\r\nCc: security-b@example.org\r\n", project: "b", field: "Cc"},
		{name: "two to fields", header: "To: friend@example.net\r\nTo: security-b@example.org\r\n", project: "b", field: "To"},
		{name: "several without an envelope", header: "To: security+a@example.org\r\nCc: security+b@example.org\r\n",
			held: true, reason: []string{"sent to several projects at once: the header names To security+a@example.org (project a), Cc security+b@example.org (project b)"}},
		{name: "no project", header: "Delivered-To: mailbox@example.org\r\nTo: security@example.net\r\n",
			held: true, reason: []string{"no project owns Delivered-To mailbox@example.org, To security@example.net"}},
		{name: "another domain", header: "Delivered-To: security+a@example.net\r\n", held: true, reason: []string{"no project owns"}},
		{name: "separator not configured", header: "Delivered-To: security-b-x@example.org\r\n", held: true},
		{name: "nothing at all", header: "Subject: hi\r\n", held: true, reason: []string{"it names no address"}},
		{name: "group syntax", header: "To: undisclosed-recipients:;\r\nCc: team: security-b@example.org;\r\n", project: "b"},
		{name: "broken display name keeps the address", header: "To: \"unterminated <security-b@example.org>, x@y\r\n", project: "b"},
		{name: "encoded display name", header: "To: =?utf-8?q?S=C3=A9curit=C3=A9?= <security-a@example.org>\r\n", project: "a"},
		{name: "escape sequences are not printed", header: "Delivered-To: \x1b[31mx@example.org\r\nTo: \"\x1b[2J\" <y@example.org>\r\n", held: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := r.Route([]byte(tc.header + "Subject: test\r\n\r\nbody\r\n"))
			if got.Project != tc.project || got.Quarantined != tc.held {
				t.Fatalf("routed to %q held %v (%q), want %q held %v", got.Project, got.Quarantined, got.Reason, tc.project, tc.held)
			}
			if tc.field != "" && got.Field != tc.field {
				t.Errorf("decided by %s %s, want %s", got.Field, got.Address, tc.field)
			}
			if tc.addr != "" && got.Address != tc.addr {
				t.Errorf("decided by %s %s, want %s", got.Field, got.Address, tc.addr)
			}
			for _, want := range tc.reason {
				if want == "" && got.Reason != "" || !strings.Contains(got.Reason, want) {
					t.Errorf("reason %q, want it to contain %q", got.Reason, want)
				}
			}
			if strings.ContainsRune(got.Reason, 0x1b) {
				t.Errorf("reason carries an escape: %q", got.Reason)
			}
		})
	}
}

func TestRouteSeparators(t *testing.T) {
	r := testRouter(t, "+-")
	if got := r.Route([]byte("Delivered-To: security-b-x@example.org\r\n\r\n")); got.Project != "b" || got.Quarantined {
		t.Errorf("with separators +-: %+v", got)
	}
	// "security-c" extends the root address with the separator '-'.
	if got := r.Route([]byte("Delivered-To: security-c@example.org\r\n\r\n")); got.Project != "root" {
		t.Errorf("with separators +-: %+v", got)
	}
	r = testRouter(t, "+")
	if got := r.Route([]byte("Delivered-To: security-c@example.org\r\n\r\n")); !got.Quarantined {
		t.Errorf("with separator +: %+v", got)
	}
}

func TestRouteManyAddressesBounded(t *testing.T) {
	r := testRouter(t, "")
	var to []string
	for i := range 5000 {
		to = append(to, "someone"+strings.Repeat("x", i%50)+"@example.net")
	}
	got := r.Route([]byte("To: " + strings.Join(to, ", ") + "\r\nCc: security+a@example.org\r\n\r\n"))
	if !got.Quarantined || len(got.Reason) > 2000 || !strings.Contains(got.Reason, "more") {
		t.Errorf("held %v, reason of %d bytes: %.300q", got.Quarantined, len(got.Reason), got.Reason)
	}
}

func TestNewRouterRefuses(t *testing.T) {
	for name, ps := range map[string][]ProjectAddresses{
		"address of two projects": {{"a", []string{"security@example.org"}}, {"b", []string{"security@EXAMPLE.org"}}},
		"no address":              {{"a", nil}},
		"bad address":             {{"a", []string{"not an address"}}},
		"no name":                 {{"", []string{"security@example.org"}}},
		"a name twice":            {{"a", []string{"x@example.org"}}, {"a", []string{"y@example.org"}}},
		// Local parts differing in case are one address.
		"local parts differing in case": {{"a", []string{"security@example.org"}}, {"b", []string{"Security@example.org"}}},
	} {
		if _, err := NewRouter(ps, ""); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := NewRouter([]ProjectAddresses{{"a", []string{"security@example.org"}}}, "@"); err == nil {
		t.Error("separator @ accepted")
	}
}

// FuzzRoute: any header routes to a known project or is held with a
// reason; the same header always routes the same; the address that decided
// belongs to the project; reasons are bounded and printable.
func FuzzRoute(f *testing.F) {
	for _, h := range []string{
		"Delivered-To: security+a@example.org\r\nTo: security+b@example.org\r\n\r\n",
		"Delivered-To: security+a@example.org\r\nTo: security+a@example.org, security+b@example.org\r\n\r\n",
		"X-Original-To: <\"security-b\"@example.org>\r\nCc: g: a@b, c@d;\r\n\r\n",
		"To: =?utf-8?q?x?= <security-a@EXAMPLE.ORG.>\r\n\r\n",
		"To: \"broken <security+b+c@example.org>, \r\n\r\n",
		"\r\n",
		"",
	} {
		f.Add([]byte(h))
	}
	r := testRouter(f, "+-")
	projects := map[string]bool{"a": true, "b": true, "root": true}
	f.Fuzz(func(t *testing.T, raw []byte) {
		got := r.Route(raw)
		if again := r.Route(raw); again != got {
			t.Fatalf("routed %+v, then %+v", got, again)
		}
		if got.Project != "" && !projects[got.Project] {
			t.Fatalf("unknown project %q", got.Project)
		}
		if !got.Quarantined && got.Project == "" {
			t.Fatalf("neither routed nor held: %+v", got)
		}
		if got.Quarantined && got.Reason == "" {
			t.Fatalf("held without a reason: %+v", got)
		}
		if !got.Quarantined {
			if got.Field == "" || r.project(got.Address) != got.Project {
				t.Fatalf("decided by %s %q, which is not %s's", got.Field, got.Address, got.Project)
			}
		}
		if len(got.Reason) > 8<<10 || !utf8.ValidString(got.Reason) || got.Reason != Printable(got.Reason) {
			t.Fatalf("reason of %d bytes, not printable: %.200q", len(got.Reason), got.Reason)
		}
	})
}
