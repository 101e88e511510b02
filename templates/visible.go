package templates

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// invisible reports whether r is a character that changes how the text
// around it is shown while showing nothing itself, so that a title taken
// from a report could make a notice read other than it is:
//
//   - the bidi controls (Unicode's Bidi_Control: U+061C, U+200E, U+200F,
//     U+202A to U+202E, U+2066 to U+2069), which reorder text;
//   - the zero-width characters U+200B, U+200C, U+200D, U+2060, U+FEFF and
//     U+180E, which hide inside words and addresses;
//   - the line and paragraph separators U+2028, U+2029 and U+0085 (NEL),
//     which some readers break lines at and others do not.
func invisible(r rune) bool {
	switch r {
	case 0x061C, 0x200E, 0x200F,
		0x202A, 0x202B, 0x202C, 0x202D, 0x202E,
		0x2066, 0x2067, 0x2068, 0x2069,
		0x200B, 0x200C, 0x200D, 0x2060, 0xFEFF, 0x180E,
		0x2028, 0x2029, 0x0085:
		return true
	}
	return false
}

// notation is how an invisible character is shown: "<U+202E>", its code
// point as fmt's %U writes it, in angle brackets. The notation is plain
// ASCII, so showing a text twice changes nothing.
func notation(r rune) string { return fmt.Sprintf("<%U>", r) }

// Visible returns s with every character that changes how text is shown
// while showing nothing itself (bidi controls, zero-width characters, line
// and paragraph separators; see the package documentation) replaced by its
// code point in the notation "<U+202E>". Everything else, including text in
// any script and emoji, is left as it is. Every rendered Subject and Body
// has been through it.
func Visible(s string) string {
	i := strings.IndexFunc(s, invisible)
	if i < 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 16)
	b.WriteString(s[:i])
	for i < len(s) {
		r, n := utf8.DecodeRuneInString(s[i:])
		if invisible(r) {
			b.WriteString(notation(r))
		} else {
			b.WriteString(s[i : i+n]) // as it was, an invalid byte too
		}
		i += n
	}
	return b.String()
}
