package templates

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// maxHeaderRunes bounds a header value taken from user input.
const maxHeaderRunes = 200

// HeaderSafe returns s made safe for a header field value: CR, LF, TAB and
// other white space become spaces, runs of spaces collapse, and the result
// is trimmed and cut to 200 characters. The characters Visible shows (bidi
// controls, zero-width characters, line and paragraph separators) are shown
// the same way, as "<U+202E>", never cut in two; NUL and every other
// control, format or invalid character is dropped. A value taken from a
// report can therefore never start a new header field or hide text behind
// direction overrides.
func HeaderSafe(s string) string {
	var b strings.Builder
	space := false
	n := 0
	for i := 0; i < len(s) && n < maxHeaderRunes; {
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		out := ""
		switch {
		case r == utf8.RuneError && size <= 1:
			continue
		case invisible(r):
			out = notation(r)
		case r == '\r' || r == '\n' || r == '\t' || unicode.IsSpace(r):
			space = true
			continue
		case unicode.IsControl(r) || unicode.In(r, unicode.Cf):
			continue
		case !unicode.IsPrint(r) && !unicode.IsGraphic(r):
			continue
		default:
			out = string(r)
		}
		sep := space && b.Len() > 0
		space = false
		w := utf8.RuneCountInString(out)
		if sep {
			w++
		}
		if n+w > maxHeaderRunes {
			break
		}
		if sep {
			b.WriteByte(' ')
		}
		b.WriteString(out)
		n += w
	}
	return b.String()
}
