package cases

import (
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseCommands(t *testing.T) {
	tests := []struct {
		name    string
		text    string
		cmds    []string // "name args..." of each command
		texts   map[int]string
		caseRef string
		comment string
		bad     []string // substrings of the problems; nil: must parse
	}{
		{name: "empty", text: ""},
		{name: "comment only", text: "Looks real to me.\nThanks", comment: "Looks real to me.\nThanks"},
		{name: "one command", text: "/status confirmed\n", cmds: []string{"status confirmed"}},
		{name: "crlf and comment", text: "/class B1\r\n/cve cve-2026-12345\r\nLet's go.\r\n",
			cmds: []string{"class B1", "cve CVE-2026-12345"}, comment: "Let's go."},
		{name: "quoted ignored", text: "/status confirmed\n> /status invalid\n  > /close\n", cmds: []string{"status confirmed"}},
		{name: "signature ignored", text: "/note hi\n-- \n/status invalid\n", cmds: []string{"note hi"}, texts: map[int]string{0: "hi"}},
		{name: "indented is text", text: "  /status invalid\n", comment: "/status invalid"},
		{name: "case line", text: "/case sec-2026-0001\n/status confirmed", caseRef: "SEC-2026-0001", cmds: []string{"status confirmed"}},
		{name: "two cases", text: "/case SEC-2026-0001\n/case SEC-2026-0002", bad: []string{"one case"}},
		{name: "same case twice", text: "/case SEC-2026-0001\n/case SEC-2026-0001", caseRef: "SEC-2026-0001"},
		{name: "unknown command", text: "/status confirmed\n/frobnicate now", bad: []string{"unknown command /frobnicate"}},
		{name: "path-like line", text: "/usr/bin/x crashes", bad: []string{"not a command"}},
		{name: "unknown state", text: "/status done", bad: []string{"unknown state"}},
		{name: "alias in-progress", text: "/status in-progress", cmds: []string{"status in-progress"}},
		{name: "bad class", text: "/class F", bad: []string{"unknown class"}},
		{name: "lower class", text: "/class b2", cmds: []string{"class B2"}},
		{name: "cvss 3.1", text: "/cvss CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", cmds: []string{"cvss CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}},
		{name: "cvss 4.0", text: "/cvss CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N", cmds: []string{"cvss CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N"}},
		{name: "cvss bad", text: "/cvss CVSS:3.1/AV:X/AC:L", bad: []string{"invalid CVSS vector"}},
		{name: "cvss 2", text: "/cvss AV:N/AC:L/Au:N/C:P/I:P/A:P", bad: []string{"CVSS:3.1/ or CVSS:4.0/"}},
		{name: "cve bad", text: "/cve CVE-26-1", bad: []string{"not a CVE ID"}},
		{name: "ghsa", text: "/advisory GHSA-2c8m-r3w5-h4fq", cmds: []string{"advisory GHSA-2c8m-r3w5-h4fq"}},
		{name: "own advisory", text: "/advisory KCSA-2026-001", cmds: []string{"advisory KCSA-2026-001"}},
		{name: "bad advisory", text: "/advisory hello", bad: []string{"neither a GHSA"}},
		{name: "affected needs text", text: "/affected", bad: []string{"wrong arguments"}},
		{name: "affected", text: "/affected < 1.2.3, 1.3.0", cmds: []string{"affected < 1.2.3, 1.3.0"}},
		{name: "credit consent", text: "/credit consent yes\n/credit Jane Doe (ACME)", cmds: []string{"credit consent yes", "credit Jane Doe (ACME)"}},
		{name: "credit consent bad", text: "/credit consent maybe", bad: []string{"consent is yes or no"}},
		{name: "impact block", text: "/impact First line\nsecond line\nthird\n\nA comment.\n/status triaged",
			cmds: []string{"impact First line", "status triaged"}, texts: map[int]string{0: "First line\nsecond line\nthird"}, comment: "A comment."},
		{name: "impact block ends at command", text: "/impact\nline one\n/status triaged", cmds: []string{"impact", "status triaged"}, texts: map[int]string{0: "line one"}},
		{name: "impact block ends at quote", text: "/impact x\n> quoted\nafter", cmds: []string{"impact x"}, texts: map[int]string{0: "x"}, comment: "after"},
		{name: "empty impact", text: "/impact\n\ntext", bad: []string{"the text is empty"}},
		{name: "reply block", text: "/reply Thanks, we confirmed it.\nMore soon.", cmds: []string{"reply Thanks, we confirmed it."}, texts: map[int]string{0: "Thanks, we confirmed it.\nMore soon."}},
		{name: "close", text: "/close", cmds: []string{"close"}},
		{name: "close invalid reason", text: "/close invalid not reproducible", cmds: []string{"close invalid not reproducible"}},
		{name: "lead offer", text: "/lead offer @alice", cmds: []string{"lead offer @alice"}},
		{name: "lead offer no at", text: "/lead offer alice", bad: []string{"wrong arguments"}},
		{name: "lead bogus", text: "/lead dance", bad: []string{"wrong arguments"}},
		{name: "team add", text: "/team add @bob", cmds: []string{"team add @bob"}},
		{name: "team bad", text: "/team invite @bob", bad: []string{"wrong arguments"}},
		{name: "log help notify", text: "/log\n/help\n/notify", cmds: []string{"log", "help", "notify"}},
		{name: "help with args", text: "/help me", bad: []string{"wrong arguments"}},
		{name: "title", text: "/title Path traversal in uploads", cmds: []string{"title Path traversal in uploads"}},
		{name: "title empty", text: "/title", bad: []string{"wrong arguments"}},
		{name: "title too long", text: "/title " + strings.Repeat("x", 201), bad: []string{"at most 200"}},
		{name: "reference", text: "/reference https://example.org/a", cmds: []string{"reference https://example.org/a"}},
		{name: "reference not a url", text: "/reference example.org/a", bad: []string{"not an http(s) URL"}},
		{name: "reference two", text: "/reference https://a.example https://b.example", bad: []string{"wrong arguments"}},
		{name: "release", text: "/release https://example.org/releases/v1.2.3", cmds: []string{"release https://example.org/releases/v1.2.3"}},
		{name: "release not a url", text: "/release v1.2.3", bad: []string{"not an http(s) URL"}},
		{name: "mitigation empty", text: "/mitigation", bad: []string{"the text is empty"}},
		{name: "notify force", text: "/notify force: the vendors asked for time", cmds: []string{"notify force: the vendors asked for time"}},
		{name: "notify args", text: "/notify distros now", bad: []string{"wrong arguments"}},
		{name: "notify list", text: "/notify distros force: the list asked", cmds: []string{"notify distros force: the list asked"}},
		{name: "notify bad list", text: "/notify ../distros", bad: []string{"is not a list name"}},
		{name: "notify force no reason", text: "/notify force:", bad: []string{"force needs a reason"}},
		{name: "disclose", text: "/disclose 2026-12-15 16:00 UTC", cmds: []string{"disclose 2026-12-15 16:00 UTC"}},
		{name: "disclose force", text: "/disclose 2026-12-15 16:00 Europe/Berlin force: exploit in the wild", cmds: []string{"disclose 2026-12-15 16:00 Europe/Berlin force: exploit in the wild"}},
		{name: "disclose force no reason", text: "/disclose 2026-12-15 16:00 UTC force:", bad: []string{"force needs a reason"}},
		{name: "disclose bad zone", text: "/disclose 2026-12-15 16:00 Mars/Olympus", bad: []string{"unknown or ambiguous time zone"}},
		{name: "disclose ambiguous zone", text: "/disclose 2026-12-15 16:00 CST", bad: []string{"unknown or ambiguous time zone", "IANA"}},
		{name: "disclose skipped local time", text: "/disclose 2027-03-28 02:30 Europe/Berlin", bad: []string{"does not exist", "daylight-saving"}},
		{name: "disclose bad date", text: "/disclose 2026-13-15 16:00 UTC", bad: []string{"invalid disclosure time"}},
		{name: "publish-now needs reason", text: "/publish-now", bad: []string{"wrong arguments"}},
		{name: "list add", text: "/list add embargo vendor@example.org", cmds: []string{"list add embargo vendor@example.org"}},
		{name: "list add inline key", text: "/list add embargo v@example.org\n" + armorBegin + "\n\nmQINBF\n=abcd\n" + armorEnd + "\nthanks",
			cmds: []string{"list add embargo v@example.org"}, texts: map[int]string{0: armorBegin + "\n\nmQINBF\n=abcd\n" + armorEnd + "\n"}, comment: "thanks"},
		{name: "list add key unterminated", text: "/list add embargo v@example.org\n" + armorBegin + "\nmQ", bad: []string{"has no"}},
		{name: "list bad address", text: "/list remove embargo not-an-address", bad: []string{"not an address"}},
		{name: "all problems listed", text: "/status nope\n/class Q\n/status confirmed", bad: []string{"line 1", "line 2"}},
		{name: "tab after name", text: "/status\tconfirmed", cmds: []string{"status confirmed"}},
		{name: "upper-case name", text: "/STATUS confirmed", cmds: []string{"status confirmed"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseCommands(tt.text)
			if tt.bad != nil {
				var pe *ParseError
				if !errors.As(err, &pe) {
					t.Fatalf("err = %v, want *ParseError", err)
				}
				for _, b := range tt.bad {
					if !strings.Contains(err.Error(), b) {
						t.Errorf("error %q does not mention %q", err, b)
					}
				}
				if got != nil {
					t.Errorf("partial result %+v returned with an error", got)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseCommands: %v", err)
			}
			var names []string
			for _, c := range got.Commands {
				names = append(names, strings.TrimSpace(c.Name+" "+strings.Join(c.Args, " ")))
			}
			if !reflect.DeepEqual(names, tt.cmds) && !(len(names) == 0 && len(tt.cmds) == 0) {
				t.Errorf("commands = %q, want %q", names, tt.cmds)
			}
			for i, want := range tt.texts {
				if got.Commands[i].Text != want {
					t.Errorf("command %d text = %q, want %q", i, got.Commands[i].Text, want)
				}
			}
			if got.Case != tt.caseRef {
				t.Errorf("case = %q, want %q", got.Case, tt.caseRef)
			}
			if got.Comment != tt.comment {
				t.Errorf("comment = %q, want %q", got.Comment, tt.comment)
			}
		})
	}
}

func TestParseValues(t *testing.T) {
	got, err := ParseCommands("/cvss CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H\n/disclose 2026-12-15 16:00 +01:00 force: leaked\n/class c1\n/notify force: asked")
	if err != nil {
		t.Fatal(err)
	}
	c := got.Commands
	closing, err := ParseCommands("/close wontfix out of scope")
	if err != nil {
		t.Fatal(err)
	}
	// c as one list in the order the checks below index it.
	c = append(append(append([]Command{}, c[:2]...), closing.Commands[0]), c[2:]...)
	if c[0].CVSS.Score != 9.8 || c[0].CVSS.Severity != "CRITICAL" {
		t.Errorf("cvss = %+v, want 9.8 CRITICAL", c[0].CVSS)
	}
	if want := time.Date(2026, 12, 15, 15, 0, 0, 0, time.UTC); !c[1].T0.Equal(want) || c[1].Force != "leaked" {
		t.Errorf("disclose = %v %q, want %v leaked", c[1].T0, c[1].Force, want)
	}
	got, err = ParseCommands("/disclose 2026-12-15 16:00 UTC no-embargo force: public already")
	if err != nil || !got.Commands[0].NoEmbargo || got.Commands[0].Force != "public already" {
		t.Errorf("disclose no-embargo = %+v, %v", got.Commands, err)
	}
	if got, err = ParseCommands("/disclose 2026-12-15 16:00 UTC"); err != nil || got.Commands[0].NoEmbargo {
		t.Errorf("disclose = %+v, %v", got.Commands, err)
	}
	got, err = ParseCommands("/disclose 2026-12-15 16:00 UTC force: public already no-embargo")
	if err != nil || !got.Commands[0].NoEmbargo || got.Commands[0].Force != "public already" {
		t.Errorf("disclose force ... no-embargo = %+v, %v", got.Commands, err)
	}
	if _, err := ParseCommands("/disclose 2026-12-15 16:00 UTC embargo"); err == nil {
		t.Error("/disclose with a fourth word other than no-embargo was accepted")
	}
	if c[4].Force != "asked" {
		t.Errorf("notify force = %q, want asked", c[4].Force)
	}
	if c[2].State != StateWontfix {
		t.Errorf("close state = %s", c[2].State)
	}
	if c[3].Args[0] != "C1" {
		t.Errorf("class = %s", c[3].Args[0])
	}
}

func TestParseCVSS(t *testing.T) {
	tests := []struct {
		in       string
		vector   string
		score    float64
		severity string
		bad      bool
	}{
		{in: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", vector: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", score: 9.8, severity: "CRITICAL"},
		{in: "CVSS:3.1/AV:L/AC:H/PR:H/UI:R/S:U/C:L/I:N/A:N", score: 1.8, severity: "LOW"},
		{in: "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N", score: 9.3, severity: "CRITICAL"},
		{in: "CVSS:3.1/AV:N", bad: true},
		{in: "CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", bad: true},
		{in: "", bad: true},
	}
	for _, tt := range tests {
		got, err := ParseCVSS(tt.in)
		if tt.bad {
			if !errors.Is(err, ErrCVSS) {
				t.Errorf("ParseCVSS(%q) err = %v, want ErrCVSS", tt.in, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseCVSS(%q): %v", tt.in, err)
			continue
		}
		if got.Score != tt.score || got.Severity != tt.severity || (tt.vector != "" && got.Vector != tt.vector) {
			t.Errorf("ParseCVSS(%q) = %+v", tt.in, got)
		}
	}
}

func TestHelpCoversVocabulary(t *testing.T) {
	h := HelpText()
	if len(helpOrder) != len(vocabulary) {
		t.Fatalf("helpOrder has %d entries, vocabulary %d", len(helpOrder), len(vocabulary))
	}
	for _, n := range helpOrder {
		if !strings.Contains(h, "/"+n) {
			t.Errorf("help does not mention /%s", n)
		}
	}
	doc, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range helpOrder {
		if !strings.Contains(string(doc), "//\t/"+n) {
			t.Errorf("doc.go does not document /%s", n)
		}
		if !strings.Contains(string(readme), "| `/"+n) {
			t.Errorf("README.md does not document /%s", n)
		}
	}
}

func FuzzParseCommands(f *testing.F) {
	for _, s := range []string{
		"/status confirmed\n/class B1\nhello",
		"/impact a\nb\n\n/reply x\n> q\n-- \n/close",
		"/list add embargo v@example.org\n" + armorBegin + "\n\nxx\n" + armorEnd,
		"/disclose 2026-12-15 16:00 UTC force: x",
		"/cvss CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N",
		"/case SEC-2026-0001\r\n/lead offer @a\r",
		"/case KN-2026-0001\n/status confirmed",
		"/case kata-2026-0001\n/case SEC-2026-0002",
		"/list approve app-2026-0001\n/list deny APP-2026-0002 not a distribution\n/list suspend v@example.org leaked\n/list reinstate v@example.org",
		"/leak a blog: the patch",
	} {
		f.Add(s)
	}
	// A project whose prefix is KN, with SEC cases from before.
	kn, err := NewRefs("KN", "SEC")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, err := (Parser{Refs: kn}).Parse(s); err == nil && got.Case != "" && !kn.Match(got.Case) {
			t.Fatalf("the KN parser names case %q, not a KN or SEC reference", got.Case)
		}
		got, err := ParseCommands(s)
		if err == nil && got.Case != "" && !(Refs{}).Match(got.Case) {
			t.Fatalf("the default parser names case %q, not a SEC reference", got.Case)
		}
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) || len(pe.Problems) == 0 {
				t.Fatalf("error %v is not a *ParseError with problems", err)
			}
			if got != nil {
				t.Fatal("result returned with an error")
			}
			return
		}
		for _, c := range got.Commands {
			if _, ok := vocabulary[c.Name]; !ok || c.Name == "case" {
				t.Fatalf("command %q is not in the vocabulary", c.Name)
			}
			if !strings.HasPrefix(c.Raw, "/") {
				t.Fatalf("command line %q does not start with /", c.Raw)
			}
		}
		if strings.Contains(got.Comment, "\r") {
			t.Fatalf("comment keeps a CR: %q", got.Comment)
		}
	})
}
