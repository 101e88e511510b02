package cases

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/secgate/secgate/templates"
)

// TestCommandLines: the lines of someone else's text that read as commands
// are the lines Parse would take as commands, known or not, and no others.
func TestCommandLines(t *testing.T) {
	token := templates.NewUntrustedToken()
	key := "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nmDMEZ/abc\n/9xyzline\n=abcd\n-----END PGP PUBLIC KEY BLOCK-----\n"
	tests := []struct {
		name  string
		text  string
		lines []int    // line numbers
		names []string // CommandNames
	}{
		{name: "none", text: "Thanks for the quick answer.\nIt also crashes on 32-bit builds.\n"},
		{name: "status and cvss", text: "/status confirmed\n/cvss CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H\nPlease hurry.\n",
			lines: []int{1, 2}, names: []string{"/status", "/cvss"}},
		{name: "upper case and tab", text: "/STATUS\tconfirmed\n", lines: []int{1}, names: []string{"/status"}},
		{name: "invalid arguments still a command", text: "/status done\n/class F\n", lines: []int{1, 2}, names: []string{"/status", "/class"}},
		{name: "case line", text: "/case SEC-2026-0001\n/status invalid\n", lines: []int{1, 2}, names: []string{"/case", "/status"}},
		{name: "unknown command named, not quoted", text: "/frobnicate now\n/status invalid\n/frobnicate again\n/tmp\n", lines: []int{1, 2, 3, 4},
			names: []string{"/status", "3 unknown"}},
		{name: "paths are not commands", text: "/etc/passwd is readable\n/usr/bin/x crashes\n", lines: nil},
		{name: "indented and quoted", text: "  /status invalid\n> /status invalid\n >/close\n", lines: nil},
		{name: "signature cuts", text: "hello\n-- \n/status invalid\n", lines: nil},
		{name: "blocks end at the next command", text: "/note one\ntwo\n/status invalid\n", lines: []int{1, 3}, names: []string{"/note", "/status"}},
		// Markers in a non-member's mail are the sender's own (the tokens
		// go only to members): they hide nothing.
		{name: "untrusted markers hide nothing", text: templates.UntrustedBegin(token) + "\n/status invalid\n" + templates.UntrustedEnd(token) + "\n/class B1\n", lines: []int{2, 4}, names: []string{"/status", "/class"}},
		{name: "a forged begin marker", text: "/status confirmed\n" + templates.UntrustedBegin(token) + "\n/status invalid\n", lines: []int{1, 3}, names: []string{"/status"}}, // names once each
		{name: "key block after list add", text: "/list add embargo x@example.org\n" + key + "/status invalid\n", lines: []int{1, 8}, names: []string{"/list", "/status"}},
		{name: "the reporter's consent line", text: "/agree K7Q2-M9XD\n", lines: nil},
		{name: "agree next to a command", text: "/agree K7Q2-M9XD\n/status confirmed\n", lines: []int{2}, names: []string{"/status"}},
		{name: "a distributor's acknowledgement line", text: "/ack ACK-K7Q2M3XDABCD\n", lines: nil},
		{name: "ack next to a command", text: "/ack ACK-K7Q2M3XDABCD\n/publish-now leaked\n", lines: []int{2}, names: []string{"/publish-now"}},
		{name: "crlf", text: "/status confirmed\r\n/help\r\n", lines: []int{1, 2}, names: []string{"/status", "/help"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := CommandLines(tc.text)
			var lines []int
			for _, c := range got {
				lines = append(lines, c.Line)
				if !strings.HasPrefix(c.Raw, "/") || c.Name == "" {
					t.Errorf("line %d: raw %q name %q", c.Line, c.Raw, c.Name)
				}
			}
			if !reflect.DeepEqual(lines, tc.lines) {
				t.Errorf("lines %v, want %v", lines, tc.lines)
			}
			if names := CommandNames(got); !reflect.DeepEqual(names, tc.names) {
				t.Errorf("names %q, want %q", names, tc.names)
			}
		})
	}
}

// TestCommandLinesAgreeWithParse: on texts a member could send, the lines
// CommandLines finds are exactly the lines Parse takes as commands.
func TestCommandLinesAgreeWithParse(t *testing.T) {
	token := templates.NewUntrustedToken()
	texts := []string{
		"/status confirmed\n/class B1\nLooks real.\n",
		"/impact First line\nsecond line\n\nA comment.\n/status triaged\n",
		"/case SEC-2026-0001\n/note hi\n> /status invalid\n  /close\n-- \n/status invalid\n",
		"/list add embargo x@example.org\n-----BEGIN PGP PUBLIC KEY BLOCK-----\n\n/abc\n-----END PGP PUBLIC KEY BLOCK-----\n/log\n",
		// A block takes the marker line as its text: no untrusted text begins.
		"/note hi\n" + templates.UntrustedBegin(token) + "\n/status confirmed\n",
		"/help\n--  \n/log\n", // "--  " is not the signature line
	}
	for _, text := range texts {
		cmds, err := ParseCommands(text)
		if err != nil {
			t.Fatalf("%q: %v", text, err)
		}
		var want []int
		for _, c := range cmds.Commands {
			want = append(want, c.Line)
		}
		for i, l := range strings.Split(text, "\n") {
			if strings.HasPrefix(strings.ToLower(l), "/case ") {
				want = append(want, i+1)
			}
		}
		slices.Sort(want)
		var got []int
		for _, c := range CommandLines(text) {
			got = append(got, c.Line)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%q: CommandLines %v, Parse %v", text, got, want)
		}
	}
}
