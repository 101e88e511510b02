// Package templates holds every text secgate sends.
//
// The defaults are embedded in the binary (text/NAME.tmpl). An operator may
// override any of them by putting a file of the same name in a directory
// given to Load. Each file is a text/template whose output starts with a
// "Subject: ..." line, then a blank line, then the body:
//
//	{{/* fields: .Case.Ref .Case.Title */ -}}
//	Subject: [{{.Case.Ref}}] {{.Case.Title}}
//
//	Body text ...
//
// Every template receives a Data value (see data.go); the comment at the top
// of each default names the fields it uses. Load parses every template and
// renders it against sample data (once fully populated, once nearly empty),
// so a broken override is refused at startup with an error that names the
// file and line, never discovered when a notice is due.
//
// # Hidden characters
//
// A text never carries a character that changes how the text around it is
// shown while showing nothing itself: a title "abc\u202Efdp.exe" must not
// read "abcexe.pdf" in a notice. These are the bidi controls (U+061C,
// U+200E, U+200F, U+202A to U+202E, U+2066 to U+2069), the zero-width
// characters (U+200B, U+200C, U+200D, U+2060, U+FEFF, U+180E) and the line
// and paragraph separators (U+2028, U+2029, U+0085). Every rendered Subject
// and Body shows each of them as its code point in angle brackets, in the
// notation of fmt's %U:
//
//	abc<U+202E>fdp.exe
//
// [Visible] does it, for the body and for any other text sent; [HeaderSafe]
// does the same in header values. Text in any script, and emoji, is left as
// it is (an emoji sequence joined by U+200D shows the joiner).
package templates
