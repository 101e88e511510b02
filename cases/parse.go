package cases

import (
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/secgate/secgate/templates"
)

// Parser limits.
const (
	maxCommandText = 256 << 10 // bytes of signed text looked at
	maxLineLen     = 4096
	maxCommands    = 64
)

// Command is one parsed command line.
type Command struct {
	Line int      // 1-based line number in the signed text
	Raw  string   // the command line as written (trimmed)
	Name string   // "status", "lead", ...
	Args []string // whitespace-separated arguments after the name
	Rest string   // everything after the name, trimmed (free-text arguments)
	Text string   // block text (/impact, /reply, /note) or an inline armored key (/list add)

	// Values checked at parse time.
	State State     // /status, /close
	CVSS  CVSS      // /cvss
	T0    time.Time // /disclose
	Force string    // /disclose ... force: REASON, /notify force: REASON
	List  string    // /notify LIST
	// NoEmbargo: /disclose ... no-embargo
	NoEmbargo bool
}

// Commands is the result of parsing the signed text of a command mail.
type Commands struct {
	Case     string    // the reference named by a /case line, "" if none
	Commands []Command // in order; /case lines are not included
	Comment  string    // free text: every line that is not a command, quoted or below the signature
}

// Problem is one reason a command mail was refused by the parser.
type Problem struct {
	Line int
	Raw  string
	Msg  string
}

// ParseError lists every problem found; none of the commands is applied.
type ParseError struct {
	Problems []Problem
}

func (e *ParseError) Error() string {
	var b strings.Builder
	b.WriteString("cases: commands refused:")
	for _, p := range e.Problems {
		if p.Line > 0 {
			fmt.Fprintf(&b, " line %d", p.Line)
		}
		if p.Raw != "" {
			fmt.Fprintf(&b, " %q", short(p.Raw))
		}
		fmt.Fprintf(&b, ": %s;", p.Msg)
	}
	return strings.TrimSuffix(b.String(), ";")
}

// Parser parses command mail text. The zero value uses the defaults.
type Parser struct {
	// Advisory is the pattern of the project's own advisory IDs, accepted by
	// /advisory next to GHSA IDs. Nil: DefaultAdvisoryPattern.
	Advisory *regexp.Regexp
	// Refs are the references a /case line may name. Zero:
	// DefaultPrefix's.
	Refs Refs
}

// DefaultAdvisoryPattern matches advisory IDs such as KCSA-2026-001.
var DefaultAdvisoryPattern = regexp.MustCompile(`^[A-Z][A-Z0-9]{1,15}-[0-9]{4}-[0-9]{1,6}$`)

var (
	cvePattern  = regexp.MustCompile(`^CVE-[0-9]{4}-[0-9]{4,19}$`)
	ghsaPattern = regexp.MustCompile(`^GHSA(-[23456789cfghjmpqrvwx]{4}){3}$`)
	namePattern = regexp.MustCompile(`^[a-z][a-z-]*$`)
)

// ParseCommands parses text with the default Parser.
func ParseCommands(text string) (*Commands, error) { return Parser{}.Parse(text) }

// Parse reads the signed text of a command mail. The grammar:
//
//   - one command per line; a command line starts with "/" in the first
//     column ("/status confirmed"); an indented line is never a command;
//   - lines starting with ">" (after optional blanks) are quoted text and
//     ignored; a line "-- " (or "--") starts the signature: it and everything
//     below are ignored;
//   - /impact, /reply and /note take a block: the text after the command on
//     the same line plus the following lines up to a blank line, a quoted
//     line or the next command line;
//   - /list add may be followed by an armored public key block
//     (-----BEGIN PGP PUBLIC KEY BLOCK----- ... -----END ...), blank lines
//     inside it included;
//   - text between the markers "----- untrusted text begins [UT-...] -----"
//     and "----- untrusted text ends [UT-...] -----" of the same token is
//     someone else's words that the gateway sent to the team (a report, a
//     follow-up), quoted by a client without "> ": it is skipped;
//   - commands that contradict each other (two different /class, /status
//     going back) refuse the mail;
//   - every other line is free text and becomes the comment.
//
// Parsing is all-or-nothing: one unknown or invalid command and the result
// is a *ParseError listing every problem.
func (p Parser) Parse(text string) (*Commands, error) {
	if len(text) > maxCommandText {
		return nil, &ParseError{Problems: []Problem{{Msg: fmt.Sprintf("the text is longer than %d bytes", maxCommandText)}}}
	}
	text = strings.ReplaceAll(text, "\r\n", "\n")
	text = strings.ReplaceAll(text, "\r", "\n")
	lines := strings.Split(text, "\n")
	for i, l := range lines {
		if l == "-- " || l == "--" {
			lines = lines[:i]
			break
		}
	}
	var (
		out      Commands
		problems []Problem
		comment  []string
	)
	bad := func(line int, raw, format string, a ...any) {
		problems = append(problems, Problem{Line: line, Raw: raw, Msg: fmt.Sprintf(format, a...)})
	}
	var untrusted string // the token of the untrusted text being skipped
	untrustedLine := 0
	for i := 0; i < len(lines); i++ {
		line := strings.TrimRight(lines[i], " \t")
		n := i + 1
		// Text the gateway sent as someone else's (a report quoted by
		// a client that does not prefix "> "): never read.
		if begin, token, ok := templates.UntrustedMarker(line); ok {
			switch {
			case untrusted == "" && begin:
				untrusted, untrustedLine = token, n
			case untrusted == token && !begin:
				untrusted = ""
			}
			continue
		}
		if untrusted != "" || isQuoted(line) {
			continue
		}
		if !strings.HasPrefix(line, "/") {
			comment = append(comment, line)
			continue
		}
		if len(line) > maxLineLen {
			bad(n, line[:40], "line longer than %d bytes", maxLineLen)
			continue
		}
		name, rest, _ := strings.Cut(line[1:], " ")
		if j := strings.IndexByte(name, '\t'); j >= 0 {
			name, rest = name[:j], name[j+1:]+" "+rest
		}
		name = strings.ToLower(name)
		rest = strings.TrimSpace(rest)
		cmd := Command{Line: n, Raw: line, Name: name, Rest: rest, Args: strings.Fields(rest)}
		if !namePattern.MatchString(name) {
			bad(n, line, "not a command (a line starting with / is read as one; indent it to make it text)")
			continue
		}
		sp, ok := vocabulary[name]
		if !ok {
			bad(n, line, "unknown command /%s (see /help)", name)
			continue
		}
		if sp.block {
			var block []string
			if rest != "" {
				block = append(block, rest)
			}
			for i+1 < len(lines) {
				next := strings.TrimRight(lines[i+1], " \t")
				if next == "" || isQuoted(next) || strings.HasPrefix(next, "/") {
					break
				}
				block = append(block, next)
				i++
			}
			cmd.Text = strings.Join(block, "\n")
		}
		if name == "list" && i+1 < len(lines) && strings.TrimSpace(lines[i+1]) == armorBegin {
			j := i + 1
			var key []string
			for ; j < len(lines); j++ {
				key = append(key, strings.TrimSpace(lines[j]))
				if strings.TrimSpace(lines[j]) == armorEnd {
					break
				}
			}
			if j == len(lines) {
				bad(n, line, "the armored key has no %s line", armorEnd)
				i = j
				continue
			}
			cmd.Text = strings.Join(key, "\n") + "\n"
			i = j
		}
		if name == "case" {
			ref := ""
			if len(cmd.Args) == 1 {
				ref = strings.ToUpper(cmd.Args[0])
			}
			switch {
			case p.Refs.Match(ref):
			case refShape.MatchString(ref):
				bad(n, line, "%s is not a case of this project: its cases are %s", ref, p.Refs.Form())
				continue
			default:
				bad(n, line, "usage: %s", usageOf(name, p.Refs))
				continue
			}
			if out.Case != "" && out.Case != ref {
				bad(n, line, "a mail acts on one case; it already names %s", out.Case)
				continue
			}
			out.Case = ref
			continue
		}
		if err := p.check(&cmd, sp); err != nil {
			bad(n, displayRaw(&cmd), "%v (usage: %s)", err, sp.usage)
			continue
		}
		if len(out.Commands) == maxCommands {
			bad(n, line, "more than %d commands in one mail", maxCommands)
			continue
		}
		out.Commands = append(out.Commands, cmd)
	}
	if untrusted != "" {
		bad(untrustedLine, "", "the untrusted text that begins here has no end marker, so nothing below it was read; quote the whole copy or none of it")
	}
	problems = append(problems, contradictions(out.Commands)...)
	if len(problems) > 0 {
		return nil, &ParseError{Problems: problems}
	}
	out.Comment = strings.TrimSpace(strings.Join(comment, "\n"))
	return &out, nil
}

const (
	armorBegin = "-----BEGIN PGP PUBLIC KEY BLOCK-----"
	armorEnd   = "-----END PGP PUBLIC KEY BLOCK-----"
)

func isQuoted(line string) bool {
	return strings.HasPrefix(strings.TrimLeft(line, " \t"), ">")
}
