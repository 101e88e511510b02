package templates

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"text/template"
)

//go:embed text/*.tmpl
var defaults embed.FS

// Ext is the file name extension of template files.
const Ext = ".tmpl"

// Text is a rendered template. Neither part carries a bidi control, a
// zero-width character or a line or paragraph separator: they are shown as
// "<U+202E>" (see Visible).
type Text struct {
	Subject string // header-safe (HeaderSafe): no CR, LF or other control characters
	Body    string // ends with exactly one newline
}

// Set is a loaded, checked set of templates. It is safe for concurrent use.
type Set struct {
	tmpls   map[string]parsed
	sources map[string]string // name -> "embedded" or the override path
}

// parsed is one template file split into its subject line and body. Both
// are padded with newlines so that error line numbers match the file.
type parsed struct {
	subject, body *template.Template
}

// ErrUnknown is returned by Render for a name that is not a template.
var ErrUnknown = errors.New("unknown template")

// Error is a template that does not parse or does not render. File is the
// template's file name (the override path when it came from the override
// directory) and Line the line in it, 0 when unknown.
type Error struct {
	File string
	Line int
	Err  error
}

func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("templates: %s:%d: %v", e.File, e.Line, e.Err)
	}
	return fmt.Sprintf("templates: %s: %v", e.File, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// Names returns the names of all templates, sorted.
func Names() []string {
	ents, err := fs.ReadDir(defaults, "text")
	if err != nil {
		return nil
	}
	var names []string
	for _, e := range ents {
		if n, ok := strings.CutSuffix(e.Name(), Ext); ok {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	return names
}

// Default returns the embedded source of the named template.
func Default(name string) ([]byte, error) {
	b, err := defaults.ReadFile("text/" + name + Ext)
	if err != nil {
		return nil, fmt.Errorf("templates: %w: %q", ErrUnknown, name)
	}
	return b, nil
}

// Load returns the embedded templates with the files of dir overriding them.
// dir may be empty (defaults only). A file in dir whose name is not a known
// template, a template that does not parse, and a template that does not
// render against the sample data (for example because it names a field that
// does not exist) are errors of type *Error.
func Load(dir string) (*Set, error) {
	s := &Set{tmpls: map[string]parsed{}, sources: map[string]string{}}
	known := map[string]bool{}
	for _, name := range Names() {
		known[name] = true
		src, err := Default(name)
		if err != nil {
			return nil, err
		}
		if err := s.add(name, name+Ext, "embedded", src); err != nil {
			return nil, err
		}
	}
	if dir == "" {
		return s, nil
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("templates: read override dir: %w", err)
	}
	for _, e := range ents {
		if e.IsDir() || !strings.HasSuffix(e.Name(), Ext) {
			continue
		}
		path := filepath.Join(dir, e.Name())
		name := strings.TrimSuffix(e.Name(), Ext)
		if now, ok := retired[name]; ok && !known[name] {
			return nil, &Error{File: path, Err: fmt.Errorf("%w %q: it is no longer sent, its text is now part of %s (override %s%s instead)", ErrUnknown, name, now, now, Ext)}
		}
		if !known[name] {
			return nil, &Error{File: path, Err: fmt.Errorf("%w %q (known: %s)", ErrUnknown, name, strings.Join(Names(), ", "))}
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("templates: read override: %w", err)
		}
		if err := s.add(name, path, path, src); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// Source tells where the named template came from: "embedded" or the path of
// the override file.
func (s *Set) Source(name string) string { return s.sources[name] }

func (s *Set) add(name, file, source string, src []byte) error {
	p, err := parse(name, string(src))
	if err != nil {
		return fileError(file, err)
	}
	for _, d := range []Data{Sample(), sparseSample()} {
		if _, err := p.render(d); err != nil {
			return fileError(file, err)
		}
	}
	s.tmpls[name] = p
	s.sources[name] = source
	return nil
}

// parse splits src into the Subject line and the body and parses both. An
// optional leading comment ({{/* ... */}}) documents the fields.
func parse(name, src string) (parsed, error) {
	src = strings.ReplaceAll(src, "\r\n", "\n")
	pos := 0
	if i := strings.Index(src, "{{"); i >= 0 && strings.TrimSpace(src[:i]) == "" &&
		strings.HasPrefix(strings.TrimLeft(strings.TrimPrefix(src[i+2:], "-"), " "), "/*") {
		end := strings.Index(src, "*/")
		if end < 0 {
			return parsed{}, &Error{Line: 1, Err: errors.New("unclosed comment")}
		}
		close := strings.Index(src[end:], "}}")
		if close < 0 {
			return parsed{}, &Error{Line: lineAt(src, end), Err: errors.New("unclosed comment action")}
		}
		pos = end + close + 2
	}
	for pos < len(src) && (src[pos] == '\n' || src[pos] == ' ' || src[pos] == '\t') {
		pos++
	}
	subjLine := lineAt(src, pos)
	line, rest, _ := strings.Cut(src[pos:], "\n")
	subj, ok := strings.CutPrefix(line, "Subject:")
	if !ok {
		return parsed{}, &Error{Line: subjLine, Err: errors.New(`expected a "Subject: ..." line (after an optional {{/* comment */}})`)}
	}
	blank, body, _ := strings.Cut(rest, "\n")
	if strings.TrimSpace(blank) != "" {
		return parsed{}, &Error{Line: subjLine + 1, Err: errors.New("the Subject line must be followed by a blank line")}
	}
	st, err := template.New(name).Option("missingkey=error").Funcs(funcs).Parse(strings.Repeat("\n", subjLine-1) + subj)
	if err != nil {
		return parsed{}, err
	}
	bt, err := template.New(name).Option("missingkey=error").Funcs(funcs).Parse(strings.Repeat("\n", subjLine+1) + body)
	if err != nil {
		return parsed{}, err
	}
	return parsed{subject: st, body: bt}, nil
}

func lineAt(src string, pos int) int { return strings.Count(src[:pos], "\n") + 1 }

// Render executes the named template with data (a Data or *Data) and splits
// the result into subject and body.
func (s *Set) Render(name string, data any) (Text, error) {
	p, ok := s.tmpls[name]
	if !ok {
		return Text{}, fmt.Errorf("templates: %w: %q", ErrUnknown, name)
	}
	txt, err := p.render(data)
	if err != nil {
		return Text{}, fileError(s.fileName(name), err)
	}
	return txt, nil
}

func (s *Set) fileName(name string) string {
	if src := s.sources[name]; src != "" && src != "embedded" {
		return src
	}
	return name + Ext
}

func (p parsed) render(data any) (Text, error) {
	var sb, bb bytes.Buffer
	if err := p.subject.Execute(&sb, data); err != nil {
		return Text{}, err
	}
	if err := p.body.Execute(&bb, data); err != nil {
		return Text{}, err
	}
	// Whatever the data held, the text carries no character that hides
	// or reorders what is around it: Visible shows them as <U+202E>.
	body := strings.ReplaceAll(bb.String(), "\r\n", "\n")
	body = Visible(strings.TrimRight(strings.TrimLeft(body, "\n"), " \t\n")) + "\n"
	return Text{Subject: HeaderSafe(sb.String()), Body: body}, nil
}

var lineRE = regexp.MustCompile(`^template: [^:]+:(\d+)(?::\d+)?: ?(.*)$`)

// fileError turns a text/template error, or an *Error without a file, into
// an *Error naming file and line.
func fileError(file string, err error) error {
	var te *Error
	if errors.As(err, &te) {
		te.File = file
		return te
	}
	msg := err.Error()
	if m := lineRE.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		return &Error{File: file, Line: line, Err: errors.New(m[2])}
	}
	return &Error{File: file, Err: err}
}
