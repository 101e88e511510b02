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
package templates
