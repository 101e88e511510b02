package templates

import (
	"fmt"
	"strings"
	"testing"
)

// hidden lists every character that must not reach outbound mail as such,
// by class.
var hidden = []struct {
	class string
	runes []rune
}{
	{"bidi", []rune{0x061C, 0x200E, 0x200F, 0x202A, 0x202B, 0x202C, 0x202D, 0x202E, 0x2066, 0x2067, 0x2068, 0x2069}},
	{"zero-width", []rune{0x200B, 0x200C, 0x200D, 0x2060, 0xFEFF, 0x180E}},
	{"separator", []rune{0x2028, 0x2029, 0x0085}},
}

// TestRenderMakesHiddenVisible renders real templates with a title and a
// component holding each hidden character: none reaches the subject or the
// body as such, each is shown as <U+XXXX>.
func TestRenderMakesHiddenVisible(t *testing.T) {
	s, err := Load("")
	if err != nil {
		t.Fatal(err)
	}
	for _, class := range hidden {
		for _, r := range class.runes {
			t.Run(fmt.Sprintf("%s/%U", class.class, r), func(t *testing.T) {
				d := Sample()
				d.Case.Title = "evil" + string(r) + "title"
				d.Case.Component = "comp" + string(r) + "onent"
				d.Case.Impact = "line one" + string(r) + "line two"
				mark := fmt.Sprintf("<%U>", r)
				for _, name := range []string{EmbargoNotice, PreReleaseNotice, Advisory, Announcement} {
					txt, err := s.Render(name, d)
					if err != nil {
						t.Fatal(err)
					}
					if strings.ContainsRune(txt.Subject, r) || strings.ContainsRune(txt.Body, r) {
						t.Errorf("%s: %U survives rendering", name, r)
					}
					if !strings.Contains(txt.Subject+"\n"+txt.Body, "evil"+mark+"title") {
						t.Errorf("%s: does not show the title as evil%stitle:\n%s\n\n%s", name, mark, txt.Subject, txt.Body)
					}
					if name == EmbargoNotice {
						if !strings.Contains(txt.Subject, "evil"+mark+"title") {
							t.Errorf("%s: subject %q does not show evil%stitle", name, txt.Subject, mark)
						}
						if !strings.Contains(txt.Body, "comp"+mark+"onent") {
							t.Errorf("%s: body does not show the component as comp%sonent", name, mark)
						}
					}
				}
			})
		}
	}
}

// TestRenderKeepsOrdinaryText: text in other scripts, emoji without a
// zero-width joiner and typographic characters come out as they went in.
func TestRenderKeepsOrdinaryText(t *testing.T) {
	s, err := Load("")
	if err != nil {
		t.Fatal(err)
	}
	for _, title := range []string{
		"Überlauf im Parser – „kritisch“",
		"Переполнение буфера в загрузчике",
		"上传处理程序中的路径遍历",
		"ثغرة في معالج التحميل",
		"פגיעות במטפל ההעלאה",
		"अपलोड हैंडलर में त्रुटि",
		"Crash 💥 on upload 🔥👍🏽",
		"naïve café résumé ﬁx",
	} {
		d := Sample()
		d.Case.Title = title
		txt, err := s.Render(EmbargoNotice, d)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(txt.Subject, ": "+title+" (") {
			t.Errorf("subject %q does not carry %q unchanged", txt.Subject, title)
		}
		if !strings.Contains(txt.Body, "Title: "+title+"\n") {
			t.Errorf("body does not carry %q unchanged:\n%s", title, txt.Body)
		}
	}
}

func TestVisible(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"plain ASCII", "plain ASCII"},
		{"a\u202eb", "a<U+202E>b"},
		{"\u061c\u200e\u200f", "<U+061C><U+200E><U+200F>"},
		{"\u2066iso\u2069", "<U+2066>iso<U+2069>"},
		{"zero\u200bwidth\u200c\u200d\u2060\ufeff\u180e", "zero<U+200B>width<U+200C><U+200D><U+2060><U+FEFF><U+180E>"},
		{"line\u2028para\u2029nel\u0085", "line<U+2028>para<U+2029>nel<U+0085>"},
		{"👨\u200d👩", "👨<U+200D>👩"},
		{"tab\tand\nnewline stay", "tab\tand\nnewline stay"},
		{"Grüße, 世界 🌍", "Grüße, 世界 🌍"},
		{"already <U+202E> shown", "already <U+202E> shown"},
	}
	for _, tc := range tests {
		if got := Visible(tc.in); got != tc.want {
			t.Errorf("Visible(%q) = %q, want %q", tc.in, got, tc.want)
		}
		if got := Visible(Visible(tc.in)); got != Visible(tc.in) {
			t.Errorf("Visible is not idempotent on %q", tc.in)
		}
	}
}

// TestHeaderSafeShowsHidden: a header value never carries a hidden
// character; it shows it, and a cut never splits the notation.
func TestHeaderSafeShowsHidden(t *testing.T) {
	for _, class := range hidden {
		for _, r := range class.runes {
			got := HeaderSafe("a" + string(r) + "b")
			if want := fmt.Sprintf("a<%U>b", r); got != want {
				t.Errorf("HeaderSafe(a %U b) = %q, want %q", r, got, want)
			}
		}
	}
	got := HeaderSafe(strings.Repeat("a", 195) + "\u202e" + "b")
	if got != strings.Repeat("a", 195) {
		t.Errorf("HeaderSafe cut inside the notation: %q", got[190:])
	}
}

func FuzzVisible(f *testing.F) {
	for _, s := range []string{"a\u202eb", "\u2028", "\xff\u200d", "<U+202E>"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := Visible(s)
		for _, r := range out {
			if invisible(r) {
				t.Fatalf("Visible(%q) = %q keeps %U", s, out, r)
			}
		}
		if Visible(out) != out {
			t.Fatalf("Visible not idempotent on %q", s)
		}
	})
}
