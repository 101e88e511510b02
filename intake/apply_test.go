package intake

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestParseApply(t *testing.T) {
	for _, tc := range []struct {
		name, text, list, rationale string
		ok, bad                     bool
	}{
		{name: "plain", text: "/apply embargo\nWe ship it.\n", list: "embargo", rationale: "We ship it.\n", ok: true},
		{name: "blank lines first", text: "\n\r\n  \n/apply embargo\r\n\r\nWe ship it.", list: "embargo", rationale: "We ship it.", ok: true},
		{name: "case of the word", text: "/APPLY distros", list: "distros", ok: true},
		{name: "trailing blanks", text: "/apply embargo \t\nx", list: "embargo", rationale: "x", ok: true},
		{name: "tab", text: "/apply\tembargo", list: "embargo", ok: true},
		{name: "byte order mark", text: "\uFEFF/apply embargo", list: "embargo", ok: true},
		{name: "dotted name", text: "/apply k8s.distributors-1", list: "k8s.distributors-1", ok: true},
		{name: "no list", text: "/apply\nhello", ok: true, bad: true},
		{name: "two words", text: "/apply embargo please", ok: true, bad: true},
		{name: "bad name", text: "/apply <script>", ok: true, bad: true},
		{name: "long name", text: "/apply " + strings.Repeat("a", 65), ok: true, bad: true},
		{name: "not first line", text: "Hello,\n/apply embargo\n"},
		{name: "indented", text: " /apply embargo"},
		{name: "quoted", text: "> /apply embargo"},
		{name: "another word", text: "/applying embargo"},
		{name: "another command", text: "/status confirmed"},
		{name: "empty", text: ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			list, rationale, ok, err := ParseApply(tc.text)
			if ok != tc.ok || (err != nil) != tc.bad {
				t.Fatalf("ParseApply(%q) = ok %v, err %v; want ok %v, bad %v", tc.text, ok, err, tc.ok, tc.bad)
			}
			if !tc.bad && (list != tc.list || rationale != tc.rationale) {
				t.Errorf("ParseApply(%q) = %q, %q; want %q, %q", tc.text, list, rationale, tc.list, tc.rationale)
			}
		})
	}
}

func TestWithoutSecretKeys(t *testing.T) {
	for _, tc := range []struct {
		name, text string
		secret     bool
	}{
		{"none", "We ship it.\n-----BEGIN PGP PUBLIC KEY BLOCK-----\nxx\n-----END PGP PUBLIC KEY BLOCK-----\n", false},
		{"one", "a\n" + secretBegin + "\nSECRETDATA\n" + secretEnd + "\nb", true},
		{"two", secretBegin + "\nSECRETDATA\n" + secretEnd + "\n" + secretBegin + "\nSECRETDATA\n" + secretEnd, true},
		{"unterminated", "a\n" + secretBegin + "\nSECRETDATA\n", true},
	} {
		got, secret := withoutSecretKeys(tc.text)
		if secret != tc.secret || strings.Contains(got, "SECRETDATA") || strings.Contains(got, secretBegin) {
			t.Errorf("%s: withoutSecretKeys = %q, %v", tc.name, got, secret)
		}
	}
}

// FuzzParseApply: ParseApply never panics; an application it reads names
// a list of the allowed form, and its rationale is a tail of the text.
func FuzzParseApply(f *testing.F) {
	for _, s := range []string{"/apply embargo\nWe ship it.", "\n\n/APPLY a.b-c\r\n", "/apply", "/apply a b", "x\n/apply a", "\uFEFF/apply\tz"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		list, rationale, ok, err := ParseApply(text)
		if !ok && (list != "" || rationale != "" || err != nil) {
			t.Fatalf("not an application, yet %q %q %v", list, rationale, err)
		}
		if ok && err == nil {
			if !listName.MatchString(list) {
				t.Fatalf("list %q of the wrong form", list)
			}
			if !strings.HasSuffix(text, rationale) {
				t.Fatalf("rationale %q is not a tail of the text", rationale)
			}
		}
		if utf8.ValidString(text) && !utf8.ValidString(rationale) {
			t.Fatalf("invalid UTF-8 rationale from valid text")
		}
	})
}
