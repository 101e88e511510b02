package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite golden files and the generated files in the repository")

// TestParseConfigGolden decodes every testdata/config/NAME.toml and compares
// the outcome (OK or the errors, one per line) with NAME.golden.
func TestParseConfigGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/config/*.toml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no test configurations: %v", err)
	}
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".toml")
		t.Run(name, func(t *testing.T) {
			text, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			got := "OK\n"
			if _, err := ParseConfig(name+".toml", text); err != nil {
				got = err.Error() + "\n"
			}
			golden := strings.TrimSuffix(file, ".toml") + ".golden"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update)", err)
			}
			if got != string(want) {
				t.Errorf("ParseConfig(%s):\ngot:\n%s\nwant:\n%s", file, got, want)
			}
		})
	}
}

func TestParseConfigErrors(t *testing.T) {
	valid, err := os.ReadFile("testdata/config/valid.toml")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		extra  string
		key    string
		line   int
		substr string
	}{
		// valid.toml has 14 lines; extra starts with an empty line 15.
		{"unknown key in known table", "\n[metrics]\nlisten = \"127.0.0.1:1\"\nlisen = \"x\"\n", "metrics.lisen", 18, "unknown key"},
		{"unknown table", "\n[smtp.extra]\nuser = \"x\"\n", "smtp.extra", 16, "unknown table"},
		{"password in config", "\n[metrics]\npassword = \"x\"\n", "metrics.password", 17, "secrets never go in the configuration"},
		{"quoted key", "\n[metrics]\n\"lis ten\" = \"x\"\n", `metrics."lis ten"`, 17, "unknown key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			text := string(valid) + tt.extra
			_, err := ParseConfig("x.toml", []byte(text))
			var ce *ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("got %v, want a *ConfigError", err)
			}
			if !strings.Contains(err.Error(), tt.substr) {
				t.Errorf("error %q lacks %q", err, tt.substr)
			}
			if tt.key != "" && (ce.Key != tt.key || ce.Line != tt.line) {
				t.Errorf("got key %q line %d, want %q line %d (%v)", ce.Key, ce.Line, tt.key, tt.line, err)
			}
		})
	}
}

// durationSchema exercises the duration check on the shapes package
// configurations use: a nested table and an array of tables.
type durationSchema struct {
	A struct {
		Timeout time.Duration `toml:"timeout"`
		Count   int           `toml:"count"`
	} `toml:"a"`
	List []struct {
		Every time.Duration `toml:"every"`
	} `toml:"list"`
}

func TestDurationsMustBeStrings(t *testing.T) {
	tests := []struct {
		text string
		want string // "" for success
	}{
		{"[a]\ntimeout = \"72h\"\ncount = 3\n", ""},
		{"[a]\ntimeout = 25\n", `x.toml:2: a.timeout: a duration must be a string such as "30s", "15m" or "72h", not a TOML integer`},
		{"[a]\ntimeout = 1.5\n", "x.toml:2: a.timeout: incompatible types"},
		{"[[list]]\nevery = \"1m\"\n[[list]]\nevery = 60\n", "list.every: a duration must be a string"},
		{"[a]\ntimeout = \"soon\"\n", "soon"},
	}
	for _, tt := range tests {
		var v durationSchema
		_, err := decodeStrict("x.toml", []byte(tt.text), &v)
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%q: %v", tt.text, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("%q: got %v, want an error containing %q", tt.text, err, tt.want)
		}
	}
	var v durationSchema
	if _, err := decodeStrict("x.toml", []byte("[a]\ntimeout = \"90m\"\n"), &v); err != nil || v.A.Timeout != 90*time.Minute {
		t.Errorf("timeout = %v, %v; want 90m", v.A.Timeout, err)
	}
}

func TestLoadConfigResolvesPaths(t *testing.T) {
	dir := t.TempDir()
	text, err := os.ReadFile("testdata/config/valid.toml")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "secgate.toml")
	if err := os.WriteFile(path, text, 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	for key, got := range map[string]string{
		"gateway.database":   cfg.Gateway.Database,
		"team_key.path":      cfg.TeamKey.Path,
		"imap.password_file": cfg.IMAP.PasswordFile,
	} {
		if !filepath.IsAbs(got) || !strings.HasPrefix(got, dir) {
			t.Errorf("%s = %q, want an absolute path under %s", key, got, dir)
		}
	}
	if _, err := LoadConfig(filepath.Join(dir, "missing.toml")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: got %v, want ErrNotExist", err)
	}
}

func TestCheckFiles(t *testing.T) {
	dir := t.TempDir()
	cfg := DefaultConfig()
	cfg.resolve(dir)
	cfg.IMAP.PasswordFile = filepath.Join(dir, "imap.pass")
	cfg.SMTP.PasswordFile = filepath.Join(dir, "smtp.pass")
	os.WriteFile(cfg.IMAP.PasswordFile, []byte("pw\n"), 0o644)
	errs := cfg.CheckFiles(func(string) string { return "" })
	var keys []string
	for _, e := range errs {
		var ce *ConfigError
		if errors.As(e, &ce) {
			keys = append(keys, ce.Key)
		}
	}
	want := []string{"gateway.data_dir", "gateway.database", "team_key.path", "imap.password_file", "smtp.password_file", "team_key.passphrase_env"}
	if !reflect.DeepEqual(keys, want) {
		t.Errorf("problems in %v, want %v (%v)", keys, want, errs)
	}
	if !strings.Contains(errors.Join(errs...).Error(), "readable by others") {
		t.Errorf("a 0644 password file is not reported: %v", errs)
	}
}

func TestReadSecretFile(t *testing.T) {
	dir := t.TempDir()
	tests := []struct{ content, want string }{
		{"s3cret\n", "s3cret"},
		{"s3cret\r\nignored\n", "s3cret"},
		{"no newline", "no newline"},
		{"\nsecond line", ""},
	}
	for i, tt := range tests {
		p := filepath.Join(dir, "f"+string(rune('a'+i)))
		os.WriteFile(p, []byte(tt.content), 0o600)
		got, err := readSecretFile(p)
		if tt.want == "" {
			if err == nil {
				t.Errorf("%q: got %q, want an error", tt.content, got)
			}
			continue
		}
		if err != nil || string(got) != tt.want {
			t.Errorf("%q: got %q, %v; want %q", tt.content, got, err, tt.want)
		}
	}
}

// TestSchemaTags checks that every configuration field (including the
// packages' configurations once they are added) has a key and a doc.
func TestSchemaTags(t *testing.T) {
	var walk func(t *testing.T, typ reflect.Type, path string)
	walk = func(t *testing.T, typ reflect.Type, path string) {
		seen := map[string]bool{}
		for i := 0; i < typ.NumField(); i++ {
			f := typ.Field(i)
			if !f.IsExported() || f.Tag.Get("toml") == "-" {
				continue
			}
			key := f.Tag.Get("toml")
			name := path + "." + f.Name
			if key == "" {
				t.Errorf("%s has no toml tag", name)
				continue
			}
			if seen[key] {
				t.Errorf("%s: key %q used twice", name, key)
			}
			seen[key] = true
			doc := f.Tag.Get("doc")
			if doc == "" || !strings.HasSuffix(doc, ".") {
				t.Errorf("%s (%s) needs a doc tag: one sentence ending with a period", name, key)
			}
			ft := f.Type
			if ft.Kind() == reflect.Slice {
				ft = ft.Elem()
			}
			if isTable(ft) {
				walk(t, ft, name)
			}
		}
	}
	walk(t, reflect.TypeOf(Config{}), "Config")
}

// TestDefaultsAreValid: the defaults plus the example values pass
// validation, so the generated example is a working starting point.
func TestExampleConfigParses(t *testing.T) {
	var buf bytes.Buffer
	cfg := DefaultConfig()
	if err := writeExampleConfig(&buf, &cfg, exampleHeader); err != nil {
		t.Fatal(err)
	}
	got, err := ParseConfig("example.toml", buf.Bytes())
	if err != nil {
		t.Fatalf("the generated example does not parse: %v\n%s", err, buf.Bytes())
	}
	if got.Gateway.Domain != "example.org" || got.SMTP.Parallel != 4 {
		t.Errorf("example decoded to %+v", got)
	}
}

func FuzzParseConfig(f *testing.F) {
	files, _ := filepath.Glob("testdata/config/*.toml")
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte("[a.b.c]\n[[x]]\n\"quoted.key\" = 1\n"))
	f.Fuzz(func(t *testing.T, text []byte) {
		cfg, err := ParseConfig("fuzz.toml", text)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty error message")
			}
			return
		}
		if errs := cfg.Validate(); len(errs) > 0 {
			t.Fatalf("ParseConfig accepted a configuration that does not validate: %v", errs)
		}
	})
}

// TestLoopbackListeners: metrics and push notifications are served on
// loopback only, and not on the same address.
func TestLoopbackListeners(t *testing.T) {
	valid, err := os.ReadFile("testdata/config/valid.toml")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		push, metrics string
		bad           string // the key named in the error, "" for none
	}{
		{"", "127.0.0.1:9464", ""},
		{"127.0.0.1:9465", "127.0.0.1:9464", ""},
		{"[::1]:9465", "", ""},
		{"0.0.0.0:9465", "127.0.0.1:9464", "imap.push_listen"},
		{"mail.example.org:9465", "", "imap.push_listen"},
		{"9465", "", "imap.push_listen"},
		{"127.0.0.1:9464", "127.0.0.1:9464", "imap.push_listen"},
		{"", "192.0.2.1:9464", "metrics.listen"},
	}
	for _, tt := range tests {
		text := strings.Replace(string(valid), "[imap]\n", fmt.Sprintf("[imap]\npush_listen = %q\n", tt.push), 1) +
			fmt.Sprintf("\n[metrics]\nlisten = %q\n", tt.metrics)
		cfg, err := ParseConfig("x.toml", []byte(text))
		switch {
		case tt.bad == "" && err != nil:
			t.Errorf("push %q metrics %q: %v", tt.push, tt.metrics, err)
		case tt.bad != "" && (err == nil || !strings.Contains(err.Error(), tt.bad)):
			t.Errorf("push %q metrics %q: err = %v, want one naming %s", tt.push, tt.metrics, err, tt.bad)
		case err == nil && cfg.packageIntake().Push != (tt.push != ""):
			t.Errorf("push %q: intake Push = %v", tt.push, cfg.packageIntake().Push)
		}
	}
}
