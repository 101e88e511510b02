package distlist

import (
	"bytes"
	"flag"
	"os"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files")

func TestComposeGolden(t *testing.T) {
	entity := []byte("Content-Type: text/plain; charset=utf-8\n\nLine one\nLine two\n")
	got, err := compose(outer{
		From: formatAddress("Security Team", "security@example.org"), To: formatAddress("Distributor Ünd Co", "psirt@distro.example"),
		Subject: encodeText("Security advisory SEC-2026-0007: a rather long subject line that needs folding – really"),
		Date:    t0, MessageID: "abcdefghijklmnopqrstuvwxyz@example.org", InReplyTo: "prev@example.org",
		References: []string{"<a@example.org>", "bad ref", "b@example.org"}, ReplyTo: "security@example.org", Auto: true,
	}, entity)
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		os.WriteFile("testdata/compose.golden", got, 0o644)
	}
	want, err := os.ReadFile("testdata/compose.golden")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("compose:\n%s\nwant:\n%s", got, want)
	}
	for i, line := range strings.Split(string(got), "\r\n") {
		if len(line) > 78 && !strings.HasPrefix(line, "Line") {
			t.Errorf("line %d longer than 78: %q", i, line)
		}
	}
	if err := guard(memMessage(got), testRow("psirt@distro.example", false), 0); err != nil {
		t.Errorf("guard refuses a composed public message: %v", err)
	}
	if _, err := compose(outer{}, []byte("Content-Type: text/plain\r\n\r\nbare\rCR\r\n")); err == nil {
		t.Error("bare CR accepted")
	}
}

func TestHeaderSafe(t *testing.T) {
	for in, want := range map[string]string{
		"plain":                 "plain",
		"a\r\nBcc: x":           "aBcc: x",
		"tab\there":             "tab here",
		"bidi\u202Eevil\u2066x": "bidi<U+202E>evil<U+2066>x",
		"zero\u200Bwidth":       "zero<U+200B>width",
		"line\u2028sep\u0085":   "line<U+2028>sep<U+0085>",
		"nul\x00byte":           "nulbyte",
	} {
		if got := headerSafe(in); got != want {
			t.Errorf("headerSafe(%q) = %q, want %q", in, got, want)
		}
	}
}
