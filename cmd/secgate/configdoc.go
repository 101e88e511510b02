package main

import (
	"context"
	"fmt"
	"io"
	"reflect"
	"strconv"
	"strings"
	"time"
)

// The configuration reference (markdown) and the annotated example
// configuration are generated from the Config struct's tags, so neither can
// go stale: TestGeneratedFiles fails when the committed copies differ.

// docSection is one TOML table of the schema.
type docSection struct {
	Key      string // dotted, e.g. "gateway" or "distlist.smtp"
	Doc      string
	Array    bool // an array of tables ([[key]])
	Fields   []docField
	Sections []*docSection
}

// docField is one key of a table.
type docField struct {
	Key     string // last element
	Doc     string
	Type    reflect.Type
	Default reflect.Value
	Example string // from the example tag; "" when absent
	// Deprecated: a key kept as an alias (its doc says of what); the
	// example configuration leaves it out.
	Deprecated bool
}

// schema describes v (a struct value holding the defaults).
func schema(v reflect.Value) *docSection {
	root := &docSection{}
	walkSchema(root, v)
	return root
}

func walkSchema(sec *docSection, v reflect.Value) {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		key := tomlKey(f)
		if !f.IsExported() || key == "" {
			continue
		}
		full := key
		if sec.Key != "" {
			full = sec.Key + "." + key
		}
		fv := v.Field(i)
		switch {
		case isTable(f.Type):
			sub := &docSection{Key: full, Doc: f.Tag.Get("doc")}
			walkSchema(sub, fv)
			sec.Sections = append(sec.Sections, sub)
		case f.Type.Kind() == reflect.Slice && isTable(f.Type.Elem()):
			sub := &docSection{Key: full, Doc: f.Tag.Get("doc"), Array: true}
			walkSchema(sub, reflect.New(f.Type.Elem()).Elem())
			sec.Sections = append(sec.Sections, sub)
		default:
			sec.Fields = append(sec.Fields, docField{Key: key, Doc: f.Tag.Get("doc"), Type: f.Type, Default: fv, Example: f.Tag.Get("example"),
				Deprecated: f.Tag.Get("deprecated") != ""})
		}
	}
}

func isTable(t reflect.Type) bool {
	return t.Kind() == reflect.Struct && t != reflect.TypeOf(time.Time{})
}

// typeName is the TOML type of a Go type, for people.
func typeName(t reflect.Type) string {
	if t == durationType {
		return "duration"
	}
	switch t.Kind() {
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "integer"
	case reflect.Float32, reflect.Float64:
		return "float"
	case reflect.Slice:
		return "list of " + typeName(t.Elem())
	case reflect.Map:
		return "table"
	case reflect.Pointer:
		return typeName(t.Elem()) // optional: unset keeps a default the doc gives
	}
	return t.String()
}

// tomlValue renders v as a TOML value.
func tomlValue(v reflect.Value) string {
	if v.Type() == durationType {
		return strconv.Quote(formatDuration(time.Duration(v.Int())))
	}
	switch v.Kind() {
	case reflect.String:
		return strconv.Quote(v.String())
	case reflect.Bool:
		return strconv.FormatBool(v.Bool())
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return strconv.FormatInt(v.Int(), 10)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return strconv.FormatUint(v.Uint(), 10)
	case reflect.Float32, reflect.Float64:
		return strconv.FormatFloat(v.Float(), 'g', -1, 64)
	case reflect.Slice:
		parts := make([]string, v.Len())
		for i := range parts {
			parts[i] = tomlValue(v.Index(i))
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case reflect.Map:
		if v.Len() == 0 {
			return "{}"
		}
	}
	return fmt.Sprintf("%q", fmt.Sprint(v.Interface()))
}

// formatDuration writes d the short way people do: "72h", "90m", "30s".
func formatDuration(d time.Duration) string {
	switch {
	case d == 0:
		return "0s"
	case d%time.Hour == 0:
		return strconv.FormatInt(int64(d/time.Hour), 10) + "h"
	case d%time.Minute == 0:
		return strconv.FormatInt(int64(d/time.Minute), 10) + "m"
	case d%time.Second == 0:
		return strconv.FormatInt(int64(d/time.Second), 10) + "s"
	}
	return d.String()
}

// exampleValue is the value shown for a field in the example configuration.
func (f docField) exampleValue() string {
	if f.Example != "" && f.Default.IsZero() {
		if f.Type.Kind() == reflect.String || f.Type == durationType {
			return strconv.Quote(f.Example)
		}
		return f.Example
	}
	return tomlValue(f.Default)
}

// defaultText is the default shown in the reference.
func (f docField) defaultText() string {
	switch f.Type.Kind() {
	case reflect.String, reflect.Slice, reflect.Map:
		if f.Default.IsZero() || f.Default.Len() == 0 {
			return "—"
		}
	case reflect.Pointer:
		if f.Default.IsNil() {
			return "—"
		}
		return "`" + tomlValue(f.Default.Elem()) + "`"
	}
	return "`" + tomlValue(f.Default) + "`"
}

const exampleHeader = `# secgate configuration: annotated example.
#
# Generated from the configuration schema (` + "`secgate config example`" + `);
# every key is shown with its default or an example value. Durations are
# strings such as "30s", "15m" or "72h". Relative paths are relative to the
# directory of this file. Secrets (passwords, the key passphrase) never go
# in this file: point at a file or an environment variable instead.
# Check a configuration with: secgate config check -config FILE
`

// writeExampleConfig writes the annotated configuration for cfg: every key
// with its doc as a comment, arrays of tables as commented templates.
func writeExampleConfig(w io.Writer, cfg *Config, header string) error {
	ew := &errWriter{w: w}
	ew.printf("%s", header)
	root := schema(reflect.ValueOf(*cfg))
	for _, sec := range root.Sections {
		writeExampleSection(ew, sec, "")
	}
	return ew.err
}

func writeExampleSection(ew *errWriter, sec *docSection, prefix string) {
	ew.printf("\n")
	writeComment(ew, prefix, sec.Doc)
	if sec.Array {
		// Arrays of tables are shown as commented templates (once
		// commented, nested tables stay at the same level of comment).
		if prefix == "" {
			prefix = "# "
		}
		ew.printf("%s[[%s]]\n", prefix, sec.Key)
	} else {
		ew.printf("%s[%s]\n", prefix, sec.Key)
	}
	for _, f := range sec.Fields {
		if f.Deprecated {
			continue
		}
		writeComment(ew, prefix, f.Doc)
		if prefix != "" {
			ew.printf("%s%s = %s\n", prefix, f.Key, zeroExample(f))
		} else {
			ew.printf("%s%s = %s\n", prefix, f.Key, f.exampleValue())
		}
	}
	for _, sub := range sec.Sections {
		writeExampleSection(ew, sub, prefix)
	}
}

func zeroExample(f docField) string {
	if f.Example != "" {
		return docField{Key: f.Key, Type: f.Type, Default: reflect.Zero(f.Type), Example: f.Example}.exampleValue()
	}
	return tomlValue(reflect.Zero(f.Type))
}

// writeComment writes doc as wrapped comment lines.
func writeComment(ew *errWriter, prefix, doc string) {
	if doc == "" {
		return
	}
	line := prefix + "#"
	for _, word := range strings.Fields(doc) {
		if len(line)+1+len(word) > 78 && line != prefix+"#" {
			ew.printf("%s\n", line)
			line = prefix + "#"
		}
		line += " " + word
	}
	ew.printf("%s\n", line)
}

// writeReference writes the configuration reference in markdown.
func writeReference(w io.Writer) error {
	ew := &errWriter{w: w}
	cfg := DefaultConfig()
	ew.printf("One TOML file (`-config FILE`, default `secgate.toml`) configures everything; a gateway of several projects has a top file and one file per project, of the same schema (`[gateway] projects`, see Many projects). ")
	ew.printf("Unknown keys are errors, durations are strings (`\"30s\"`, `\"72h\"`), relative paths are relative to the file's directory, ")
	ew.printf("and secrets are never written in it. `secgate config check -config FILE` validates a file; ")
	ew.printf("`secgate.example.toml` is an annotated example.\n")
	root := schema(reflect.ValueOf(cfg))
	for _, sec := range root.Sections {
		writeReferenceSection(ew, sec)
	}
	return ew.err
}

func writeReferenceSection(ew *errWriter, sec *docSection) {
	if sec.Array {
		ew.printf("\n#### `[[%s]]`\n\n", sec.Key)
	} else {
		ew.printf("\n#### `[%s]`\n\n", sec.Key)
	}
	if sec.Doc != "" {
		ew.printf("%s\n\n", sec.Doc)
	}
	if len(sec.Fields) > 0 {
		ew.printf("| Key | Type | Default | Description |\n|---|---|---|---|\n")
		for _, f := range sec.Fields {
			ew.printf("| `%s` | %s | %s | %s |\n", f.Key, typeName(f.Type), f.defaultText(), strings.ReplaceAll(f.Doc, "|", `\|`))
		}
	}
	for _, sub := range sec.Sections {
		writeReferenceSection(ew, sub)
	}
}

// errWriter keeps the first write error.
type errWriter struct {
	w   io.Writer
	err error
}

func (ew *errWriter) printf(format string, args ...any) {
	if ew.err != nil {
		return
	}
	_, ew.err = fmt.Fprintf(ew.w, format, args...)
}

func runConfigExample(ctx context.Context, a *app, c *command, args []string) error {
	fs := c.flagSet(a)
	if _, err := c.parse(a, fs, args, 0); err != nil {
		return err
	}
	cfg := DefaultConfig()
	return writeExampleConfig(a.stdout, &cfg, exampleHeader)
}

func runConfigReference(ctx context.Context, a *app, c *command, args []string) error {
	fs := c.flagSet(a)
	if _, err := c.parse(a, fs, args, 0); err != nil {
		return err
	}
	return writeReference(a.stdout)
}
