package intake

import "testing"

func TestPrintable(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"plain text", "plain text"},
		{"line\nnext\tcol", "line\nnext\tcol"},
		{"esc \x1b[31mred", `esc \x1b[31mred`},
		{"cr\rnul\x00", `cr\rnul\x00`},
		{"bad \xff byte", `bad \xff byte`},
		{"bidi \u202e", `bidi \u202e`},
		{"jürgen", "jürgen"},
	} {
		if got := Printable(tt.in); got != tt.want {
			t.Errorf("Printable(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func FuzzPrintable(f *testing.F) {
	f.Add("esc \x1b[31m\xff")
	f.Fuzz(func(t *testing.T, s string) {
		for _, r := range Printable(s) {
			if r != '\n' && r != '\t' && (r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0)) {
				t.Fatalf("Printable(%q) keeps control %U", s, r)
			}
		}
	})
}
