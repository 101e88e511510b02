package gpgtest

import (
	"bytes"
	"testing"
)

// CRLF turns every line end of b into CRLF, as mail on the wire has it.
func CRLF(b []byte) []byte {
	return bytes.ReplaceAll(bytes.ReplaceAll(b, []byte("\r\n"), []byte("\n")), []byte("\n"), []byte("\r\n"))
}

// SplitTwo returns the raw bytes of the two parts of a multipart body, as a
// mail client cuts them before handing them to gpg: after "--B CRLF", up to
// "CRLF --B".
func SplitTwo(t testing.TB, body []byte, boundary string) (first, second []byte) {
	t.Helper()
	delim := []byte("--" + boundary)
	i := bytes.Index(body, append(delim, '\r', '\n'))
	if i < 0 || boundary == "" {
		t.Fatalf("no boundary %q", boundary)
	}
	rest := body[i+len(delim)+2:]
	j := bytes.Index(rest, append([]byte("\r\n"), append(delim, '\r', '\n')...))
	if j < 0 {
		t.Fatal("no second part")
	}
	first, rest = rest[:j], rest[j+len(delim)+4:]
	k := bytes.Index(rest, append([]byte("\r\n"), append(delim, '-', '-')...))
	if k < 0 {
		t.Fatal("no closing boundary")
	}
	return first, rest[:k]
}
