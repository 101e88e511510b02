package main

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

const (
	refBegin = "<!-- BEGIN CONFIG REFERENCE"
	refEnd   = "<!-- END CONFIG REFERENCE -->"
)

// TestGeneratedFiles fails when the committed example configuration or the
// README's configuration reference differ from what the schema generates.
// `go test ./cmd/secgate -update` rewrites them.
func TestGeneratedFiles(t *testing.T) {
	root := filepath.Join("..", "..")

	var example bytes.Buffer
	cfg := DefaultConfig()
	if err := writeExampleConfig(&example, &cfg, exampleHeader); err != nil {
		t.Fatal(err)
	}
	checkGenerated(t, filepath.Join(root, "secgate.example.toml"), func(old []byte) ([]byte, error) {
		return example.Bytes(), nil
	})

	var ref bytes.Buffer
	if err := writeReference(&ref); err != nil {
		t.Fatal(err)
	}
	checkGenerated(t, filepath.Join(root, "README.md"), func(old []byte) ([]byte, error) {
		return replaceBetweenMarkers(old, ref.Bytes())
	})
}

// checkGenerated compares path with gen(current content), or rewrites it
// with -update.
func checkGenerated(t *testing.T, path string, gen func(old []byte) ([]byte, error)) {
	t.Helper()
	old, err := os.ReadFile(path)
	if err != nil && !(*update && os.IsNotExist(err)) {
		t.Fatalf("%v (run go test ./cmd/secgate -update)", err)
	}
	want, err := gen(old)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if *update {
		if err := os.WriteFile(path, want, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if !bytes.Equal(old, want) {
		t.Errorf("%s is stale: the configuration schema changed; run go test ./cmd/secgate -update and commit the result", path)
	}
}

// replaceBetweenMarkers puts body between the reference markers of a
// markdown document.
func replaceBetweenMarkers(doc, body []byte) ([]byte, error) {
	s := string(doc)
	i := strings.Index(s, refBegin)
	j := strings.Index(s, refEnd)
	if i < 0 || j < i {
		return nil, os.ErrNotExist
	}
	i += strings.Index(s[i:], "\n") + 1
	return []byte(s[:i] + "\n" + string(body) + "\n" + s[j:]), nil
}

func TestReferenceContent(t *testing.T) {
	var ref bytes.Buffer
	if err := writeReference(&ref); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"#### `[gateway]`",
		"| `domain` | string | — | Mail domain the gateway serves. |",
		"| `parallel` | integer | `4` |",
		"| `tls` | string | `\"starttls\"` |",
	} {
		if !strings.Contains(ref.String(), want) {
			t.Errorf("reference lacks %q:\n%s", want, ref.String())
		}
	}
}

// exampleSchema has the shapes the package configurations add: durations,
// lists, nested tables and arrays of tables.
type exampleSchema struct {
	Outer struct {
		Every   time.Duration `toml:"every" doc:"How often."`
		Names   []string      `toml:"names" doc:"Some names."`
		Enabled bool          `toml:"enabled" doc:"On or off."`
		Inner   struct {
			Limit int64 `toml:"limit" doc:"A limit."`
		} `toml:"inner" doc:"Nested table."`
		Items []struct {
			Name string `toml:"name" doc:"Item name." example:"first"`
			Subs []struct {
				Addr string `toml:"addr" doc:"An address."`
			} `toml:"sub" doc:"Nested array."`
		} `toml:"item" doc:"Array of tables."`
		Skipped string `toml:"-"`
	} `toml:"outer" doc:"Outer table."`
}

func TestExampleRendering(t *testing.T) {
	var v exampleSchema
	v.Outer.Every = 72 * time.Hour
	v.Outer.Names = []string{"a", "b"}
	v.Outer.Inner.Limit = 10
	sec := schema(reflect.ValueOf(v))
	ew := &errWriter{w: new(bytes.Buffer)}
	for _, s := range sec.Sections {
		writeExampleSection(ew, s, "")
	}
	got := ew.w.(*bytes.Buffer).String()
	want := `
# Outer table.
[outer]
# How often.
every = "72h"
# Some names.
names = ["a", "b"]
# On or off.
enabled = false

# Nested table.
[outer.inner]
# A limit.
limit = 10

# Array of tables.
# [[outer.item]]
# # Item name.
# name = "first"

# # Nested array.
# [[outer.item.sub]]
# # An address.
# addr = ""
`
	if got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
	// The rendered text decodes back to the same values.
	var back exampleSchema
	if _, err := decodeStrict("example.toml", []byte(got), &back); err != nil {
		t.Fatal(err)
	}
	if back.Outer.Every != v.Outer.Every || back.Outer.Inner.Limit != 10 || len(back.Outer.Names) != 2 {
		t.Errorf("round trip: %+v", back)
	}
}

func TestFormatDuration(t *testing.T) {
	tests := map[time.Duration]string{
		0:                       "0s",
		72 * time.Hour:          "72h",
		90 * time.Minute:        "90m",
		45 * time.Second:        "45s",
		1500 * time.Millisecond: "1.5s",
	}
	for d, want := range tests {
		if got := formatDuration(d); got != want {
			t.Errorf("formatDuration(%v) = %q, want %q", d, got, want)
		}
		if back, err := time.ParseDuration(want); err != nil || back != d {
			t.Errorf("%q does not parse back to %v", want, d)
		}
	}
}
