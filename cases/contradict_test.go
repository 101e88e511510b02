package cases

import (
	"strings"
	"testing"

	"github.com/secgate/secgate/templates"
)

func TestContradictions(t *testing.T) {
	tests := []struct {
		name string
		text string
		bad  string // substring of the problem; "" must parse
	}{
		{"forward through the states", "/status confirmed\n/status triaged\n/status cve-requested\n", ""},
		{"back", "/status confirmed\n/status incomplete\n", "contradicts line 1"},
		{"same state twice", "/status confirmed\n/status confirmed\n", "contradicts line 1"},
		{"after a side exit", "/status invalid\n/status confirmed\n", "contradicts"},
		{"close after release", "/status fix-released\n/close\n", ""},
		{"two classes", "/class B1\n/class B2\n", "/class is given twice"},
		{"the same class twice", "/class B1\n/class B1\n", ""},
		{"cvss of two versions", "/cvss CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:N\n/cvss CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N\n", ""},
		{"two cvss 3.1", "/cvss CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:N\n/cvss CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:H/A:N\n", "given twice"},
		{"credit and consent", "/credit Jane\n/credit consent yes\n", ""},
		{"two credits", "/credit Jane\n/credit Mallory\n", "given twice"},
		{"two impacts", "/impact one\n\n/impact two\n", "given twice"},
		{"disclose and publish", "/disclose 2027-01-05 16:00 UTC\n/publish-now leaked\n", "say two different things"},
		{"two patches", "/patch https://a.example/1\n/patch https://a.example/2\n", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseCommands(tc.text)
			switch {
			case tc.bad == "" && err != nil:
				t.Errorf("refused: %v", err)
			case tc.bad != "" && (err == nil || !strings.Contains(err.Error(), tc.bad)):
				t.Errorf("got %v, want a problem with %q", err, tc.bad)
			}
		})
	}
}

// TestParseSkipsUntrustedText: a team copy quoted without "> " (Outlook
// style) contributes nothing; a marker block without its end refuses.
func TestParseSkipsUntrustedText(t *testing.T) {
	tok := templates.NewUntrustedToken()
	copyText := "A new report arrived.\n\n" + templates.Untrusted("Hi\n/status incomplete\n/credit Mallory", tok) + "\n\nReply with commands.\n"
	// A client that drops the "| " prefix while quoting (or the member
	// pasting the block bare) leaves the markers.
	stripped := strings.ReplaceAll(copyText, templates.UntrustedPrefix, "")
	for name, quoted := range map[string]string{"prefixed": copyText, "prefix stripped": stripped} {
		t.Run(name, func(t *testing.T) {
			got, err := ParseCommands("/class B1\n\n-----Original Message-----\n" + quoted)
			if err != nil {
				t.Fatal(err)
			}
			if len(got.Commands) != 1 || got.Commands[0].Name != "class" {
				t.Errorf("commands %+v, want /class alone", got.Commands)
			}
			if strings.Contains(got.Comment, "Mallory") {
				t.Errorf("the untrusted text became the member's comment: %q", got.Comment)
			}
		})
	}
	// Another token's end marker does not end the block.
	forged := templates.UntrustedBegin(tok) + "\n" + templates.UntrustedEnd(templates.NewUntrustedToken()) + "\n/status incomplete\n" + templates.UntrustedEnd(tok) + "\n"
	if got, err := ParseCommands(forged); err != nil || len(got.Commands) != 0 {
		t.Errorf("a forged end marker let a line out: %+v %v", got, err)
	}
	if _, err := ParseCommands("/class B1\n" + templates.UntrustedBegin(tok) + "\n| text\n/status confirmed\n"); err == nil || !strings.Contains(err.Error(), "no end marker") {
		t.Errorf("an unterminated block: %v", err)
	}
}
