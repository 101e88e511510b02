package templates

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// maxHeaderRunes bounds a header value taken from user input.
const maxHeaderRunes = 200

// HeaderSafe returns s made safe for a header field value: CR, LF, TAB and
// the Unicode line and paragraph separators become spaces, NUL and every
// other control, format (bidi overrides, zero-width) or invalid character is
// dropped, runs of spaces collapse, and the result is trimmed and cut to 200
// characters. A value taken from a report can therefore never start a new
// header field or hide text behind direction overrides.
func HeaderSafe(s string) string {
	var b strings.Builder
	space := false
	n := 0
	for i := 0; i < len(s) && n < maxHeaderRunes; {
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		switch {
		case r == utf8.RuneError && size <= 1:
			continue
		case r == '\r' || r == '\n' || r == '\t' || r == '\u2028' || r == '\u2029' || unicode.IsSpace(r):
			space = true
			continue
		case unicode.IsControl(r) || unicode.In(r, unicode.Cf) || r == '\ufeff':
			continue
		case !unicode.IsPrint(r) && !unicode.IsGraphic(r):
			continue
		}
		if space && b.Len() > 0 {
			b.WriteByte(' ')
			n++
		}
		space = false
		b.WriteRune(r)
		n++
	}
	return b.String()
}
