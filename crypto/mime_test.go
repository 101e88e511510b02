package crypto

import (
	"mime"
	"strings"
	"testing"
)

func TestFormatMediaType(t *testing.T) {
	for _, tc := range []struct {
		params map[string]string
		want   string
	}{
		{nil, "text/plain"},
		{map[string]string{"charset": "utf-8"}, "text/plain;\r\n\tcharset=\"utf-8\""},
		{map[string]string{"Name": `a"b\c`, "charset": "x"}, "text/plain;\r\n\tname=\"a\\\"b\\\\c\";\r\n\tcharset=\"x\""},
		{map[string]string{"name": "caf\u00e9.txt"}, "text/plain;\r\n\tname*=utf-8''caf%C3%A9.txt"}, // RFC 2231
		{map[string]string{"bad name": "x"}, "text/plain"},                                          // not representable: left out
	} {
		got := formatMediaType("text/plain", tc.params)
		if got != tc.want {
			t.Errorf("formatMediaType(%q) = %q, want %q", tc.params, got, tc.want)
			continue
		}
		// What it writes parses back to the same parameters.
		_, params, err := mime.ParseMediaType(strings.ReplaceAll(got, "\r\n\t", " "))
		if err != nil {
			t.Errorf("%q does not parse: %v", got, err)
			continue
		}
		for k, v := range tc.params {
			if mime.FormatMediaType("x/y", map[string]string{k: v}) != "" && params[strings.ToLower(k)] != v {
				t.Errorf("%q: %s = %q after parsing, want %q", got, k, params[strings.ToLower(k)], v)
			}
		}
	}
}
