package cases

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/secgate/secgate/internal/when"
	"github.com/secgate/secgate/templates"
)

// Who may run a command.
type access int

const (
	anyMember   access = iota // any current team member
	leadOrAdmin               // the case's fix lead or a member with role "lead"
	admin                     // a member with role "lead"
)

// spec describes one command of the vocabulary.
type spec struct {
	usage    string
	help     string
	block    bool   // takes a text block
	needCase bool   // acts on a case
	access   access // who may run it
}

// DraftNames are the texts /draft renders: those a member reviews or
// forwards by hand (the CVE request to a CNA, the impact description), and
// the notices and announcements the gateway will send.
var DraftNames = []string{templates.Impact, templates.CVERequestPrivate, templates.CVERequestPublic, templates.Advisory,
	templates.SecurityNote, templates.EmbargoNotice, templates.PreReleaseNotice, templates.Announcement,
	templates.AnnouncementChat, templates.AnnouncementIssue, templates.Retrospective}

// vocabulary is the whole command set; /help prints it in helpOrder.
var vocabulary = map[string]spec{
	"case":        {usage: "/case PREFIX-YYYY-NNNN", help: "name the case this mail acts on (otherwise the subject tag or the thread decides)"},
	"status":      {usage: "/status STATE", help: "move the case to STATE (" + stateNames() + ")", needCase: true},
	"class":       {usage: "/class CLASS", help: "set the Kata incident class (" + strings.Join(Classes, " ") + ")", needCase: true},
	"cvss":        {usage: "/cvss CVSS:3.1/... | CVSS:4.0/...", help: "set the CVSS vector; score and severity are computed", needCase: true},
	"cve":         {usage: "/cve CVE-YYYY-NNNN", help: "record the assigned CVE ID", needCase: true},
	"advisory":    {usage: "/advisory GHSA-xxxx-xxxx-xxxx | OWN-YYYY-NNN", help: "record the advisory ID", needCase: true},
	"affected":    {usage: "/affected VERSIONS", help: "set the affected versions (free text)", needCase: true},
	"fixed":       {usage: "/fixed VERSIONS", help: "set the fixed versions (free text)", needCase: true},
	"credit":      {usage: "/credit NAME | /credit consent yes|no | /credit none", help: "set who is credited, record the reporter's consent, or clear the credit", needCase: true},
	"title":       {usage: "/title TEXT", help: "set the vulnerability's title for the notices and the advisory (one line)", needCase: true},
	"component":   {usage: "/component NAME", help: "set the affected component or package", needCase: true},
	"terms":       {usage: "/terms TEXT... | /terms none", help: "record the reporter's disclosure terms (block), shown with every /disclose: the reporter keeps the final say (Kata); or clear them", block: true, needCase: true},
	"mitigation":  {usage: "/mitigation TEXT... | /mitigation none", help: "set the mitigations and workarounds to the block that follows, or clear them", block: true, needCase: true},
	"patch":       {usage: "/patch WHERE | /patch none", help: "add where a fix is (commit, pull request) for the embargo notice; naming a file attached to this mail sends the file with the notices; none clears the list", needCase: true},
	"reference":   {usage: "/reference URL | /reference none", help: "add a reference URL for the advisory, OSV and CVE records, or clear the list", needCase: true},
	"release":     {usage: "/release URL | /release none", help: "set where the fixed release and its binaries are (the release notes): the announcements, the advisory and the records link it; or clear it", needCase: true},
	"impact":      {usage: "/impact TEXT...", help: "replace the impact description draft with the block that follows (up to a blank line or the next command)", block: true, needCase: true},
	"reply":       {usage: "/reply TEXT...", help: "send the block to the reporter from the team address (encrypted when their key is known)", block: true, needCase: true},
	"note":        {usage: "/note TEXT...", help: "add an internal note to the case (never sent to the reporter)", block: true, needCase: true},
	"close":       {usage: "/close [REASON] | /close invalid|wontfix|opinion [REASON]", help: "close a released case, or end it as invalid, wontfix or opinion (the reporter is told)", needCase: true, access: leadOrAdmin},
	"lead":        {usage: "/lead offer @MEMBER | /lead accept | /lead take | /lead release", help: "positive hand-off of the fix lead: the lead offers, the member accepts, the gateway confirms to both; take works when the lead released the case or is away/gone", needCase: true},
	"team":        {usage: "/team add|remove @MEMBER", help: "change the case's fix team", needCase: true, access: leadOrAdmin},
	"log":         {usage: "/log", help: "mail me the case's audit log (encrypted)", needCase: true},
	"draft":       {usage: "/draft NAME", help: "mail me a text rendered with this case as it would be sent now (" + strings.Join(DraftNames, ", ") + "), to review or forward", needCase: true},
	"help":        {usage: "/help", help: "mail me this list"},
	"disclose":    {usage: "/disclose YYYY-MM-DD HH:MM ZONE [no-embargo] [force: REASON]", help: "plan public disclosure at that time; no-embargo plans it without notice to the distributors (an issue already public, or one that does not warrant an embargo); force overrides the policy (the reason is logged)", needCase: true, access: leadOrAdmin},
	"notify":      {usage: "/notify [LIST] [force: REASON]", help: "send the embargo notice to the distributors now, or add embargo list LIST to the case and tell it as soon as its rules allow; force allows an embargo longer than the policy's (the reason is logged)", needCase: true, access: leadOrAdmin},
	"publish-now": {usage: "/publish-now REASON", help: "embargo broken: publish at once and tell everyone", needCase: true, access: leadOrAdmin},
	"list": {usage: "/list add LIST ADDRESS (key attached or armored below; none: looked up in its Web Key Directory) | /list confirm LIST ADDRESS FINGERPRINT | /list remove LIST ADDRESS | /list approve APP-ID | /list deny APP-ID REASON | /list suspend ADDRESS REASON | /list reinstate ADDRESS",
		help: "manage an embargo list's recipients (the removed address is told; a key looked up by address is used once a member confirms its fingerprint); approve or deny an application (/apply); keep a distributor out of every notice until reinstated", access: admin},
	"approve":     {usage: "/approve REF", help: "approve a step another member asked for under the two-person rule ([cases] approvals = 2): it runs as theirs; REF is in the request every member got"},
	"break-glass": {usage: "/break-glass REASON", help: "take the irreversible steps of this mail alone under the two-person rule (members [cases] break_glass names); every member is told at once"},
	"leak":        {usage: "/leak WHO: WHAT", help: "record a reported or suspected leak on the case (stored encrypted); every member is told and asked whether to /publish-now", needCase: true},
}

var helpOrder = []string{"case", "status", "class", "cvss", "cve", "advisory", "affected", "fixed", "credit",
	"title", "component", "impact", "mitigation", "terms", "patch", "reference", "release", "reply", "note", "close", "lead", "team", "log", "draft", "help", "disclose", "notify", "publish-now", "leak", "list", "approve", "break-glass"}

func stateNames() string {
	var s []string
	for _, st := range States {
		s = append(s, string(st))
	}
	return strings.Join(s, " ")
}

// usageOf is the usage line of command name; /case names the form of
// refs' references ("/case KN-YYYY-NNNN").
func usageOf(name string, refs Refs) string {
	if name == "case" {
		return "/case " + refs.Form()
	}
	return vocabulary[name].usage
}

// HelpText is the /help answer: the vocabulary and the grammar, /case
// naming DefaultPrefix's references.
func HelpText() string {
	var b strings.Builder
	b.WriteString("Commands (one per line, starting with / in the first column, in the signed text):\n\n")
	for _, n := range helpOrder {
		fmt.Fprintf(&b, "%s\n    %s\n", usageOf(n, Refs{}), vocabulary[n].help)
	}
	b.WriteString("\nQuoted lines (>) and everything below a \"-- \" line are ignored; other text is kept as a comment.\n")
	b.WriteString("One unknown or invalid command and nothing in the mail is applied.\n")
	return b.String()
}

var errUsage = errors.New("wrong arguments")

// check validates one command's arguments without looking at any case.
func (p Parser) check(c *Command, sp spec) error {
	args := c.Args
	nargs := func(n int) error {
		if len(args) != n {
			return errUsage
		}
		return nil
	}
	switch c.Name {
	case "status":
		if err := nargs(1); err != nil {
			return err
		}
		st, ok := ParseState(strings.ToLower(args[0]))
		if !ok {
			return fmt.Errorf("unknown state %q", short(args[0]))
		}
		c.State = st
	case "class":
		if err := nargs(1); err != nil {
			return err
		}
		cl := strings.ToUpper(args[0])
		if !slices.Contains(Classes, cl) {
			return fmt.Errorf("unknown class %q", short(args[0]))
		}
		c.Args[0] = cl
	case "cvss":
		if err := nargs(1); err != nil {
			return err
		}
		v, err := ParseCVSS(args[0])
		if err != nil {
			return err
		}
		c.CVSS = v
	case "cve":
		if err := nargs(1); err != nil {
			return err
		}
		c.Args[0] = strings.ToUpper(args[0])
		if !cvePattern.MatchString(c.Args[0]) {
			return fmt.Errorf("%q is not a CVE ID", short(args[0]))
		}
	case "advisory":
		if err := nargs(1); err != nil {
			return err
		}
		own := p.Advisory
		if own == nil {
			own = DefaultAdvisoryPattern
		}
		if !ghsaPattern.MatchString(args[0]) && !own.MatchString(args[0]) {
			return fmt.Errorf("%q is neither a GHSA ID nor an advisory ID of the form %s", short(args[0]), own)
		}
	case "affected", "fixed", "publish-now", "title", "component", "patch":
		if c.Rest == "" {
			return errUsage
		}
		if c.Name == "title" && len(c.Rest) > 200 {
			return errors.New("a title is one line of at most 200 characters")
		}
	case "reference", "release":
		if err := nargs(1); err != nil {
			return err
		}
		if !strings.EqualFold(args[0], "none") {
			u, err := url.Parse(args[0])
			if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
				return fmt.Errorf("%q is not an http(s) URL", short(args[0]))
			}
		}
	case "mitigation", "terms":
		if strings.TrimSpace(c.Text) == "" {
			return errors.New("the text is empty")
		}
	case "credit":
		if len(args) == 0 {
			return errUsage
		}
		if strings.EqualFold(args[0], "consent") {
			if len(args) != 2 || (args[1] != ConsentYes && args[1] != ConsentNo) {
				return errors.New("consent is yes or no")
			}
		}
	case "impact", "reply", "note":
		if strings.TrimSpace(c.Text) == "" {
			return errors.New("the text is empty")
		}
	case "close":
		if len(args) > 0 {
			switch strings.ToLower(args[0]) {
			case "invalid", "wontfix", "opinion":
				c.State = State(strings.ToLower(args[0]))
				return nil
			}
		}
		c.State = StateClosed
	case "lead":
		if len(args) == 0 {
			return errUsage
		}
		switch strings.ToLower(args[0]) {
		case "offer":
			if len(args) != 2 || !strings.HasPrefix(args[1], "@") || len(args[1]) < 2 {
				return errUsage
			}
		case "accept", "take", "release":
			if len(args) != 1 {
				return errUsage
			}
		default:
			return errUsage
		}
		c.Args[0] = strings.ToLower(args[0])
	case "team":
		if len(args) != 2 || (args[0] != "add" && args[0] != "remove") || !strings.HasPrefix(args[1], "@") || len(args[1]) < 2 {
			return errUsage
		}
	case "log", "help":
		if err := nargs(0); err != nil {
			return err
		}
	case "draft":
		if err := nargs(1); err != nil {
			return err
		}
		c.Args[0] = strings.ToLower(args[0])
		if !slices.Contains(DraftNames, c.Args[0]) {
			return fmt.Errorf("no text %q to draft (%s)", short(args[0]), strings.Join(DraftNames, ", "))
		}
	case "notify":
		list, force, err := parseNotify(c.Rest)
		if err != nil {
			return err
		}
		c.List, c.Force = list, force
	case "disclose":
		t0, force, noEmbargo, err := parseDisclose(c.Rest)
		if err != nil {
			return err
		}
		c.T0, c.Force, c.NoEmbargo = t0, force, noEmbargo
	case "list":
		return checkList(c)
	case "approve":
		if err := nargs(1); err != nil {
			return err
		}
		c.Args[0] = strings.ToUpper(args[0])
		if !approvalPattern.MatchString(c.Args[0]) {
			return fmt.Errorf("%q is not an approval reference (AP-XXXXXX)", short(args[0]))
		}
	case "break-glass":
		if c.Rest == "" {
			return errors.New("write /break-glass REASON: why the step cannot wait for a second member")
		}
	case "leak":
		who, what, ok := strings.Cut(c.Rest, ":")
		if !ok || strings.TrimSpace(who) == "" || strings.TrimSpace(what) == "" {
			return errors.New("write /leak WHO: WHAT (who leaked or where it showed up, a colon, what leaked)")
		}
	}
	return nil
}

// parseForce reads an optional "force: REASON" and nothing else.
func parseForce(rest string) (string, error) {
	main, force, err := cutForce(rest)
	if err != nil {
		return "", err
	}
	if strings.TrimSpace(main) != "" {
		return "", errUsage
	}
	return force, nil
}

// cutForce splits rest at "force:" into what precedes it and the reason.
func cutForce(rest string) (main, force string, err error) {
	main, force, forced := strings.Cut(rest, "force:")
	force = strings.TrimSpace(force)
	if forced && force == "" {
		return "", "", errors.New("force needs a reason")
	}
	return main, force, nil
}

// parseDisclose reads "YYYY-MM-DD HH:MM ZONE [no-embargo] [force: REASON]".
func parseDisclose(rest string) (t time.Time, force string, noEmbargo bool, err error) {
	main, force, err := cutForce(rest)
	if err != nil {
		return time.Time{}, "", false, err
	}
	f := strings.Fields(main)
	if len(f) == 4 && strings.EqualFold(f[3], "no-embargo") {
		f, noEmbargo = f[:3], true
	}
	// "force: REASON no-embargo": the option after the reason counts too.
	if ff := strings.Fields(force); !noEmbargo && len(ff) > 1 && strings.EqualFold(ff[len(ff)-1], "no-embargo") {
		force, noEmbargo = strings.Join(ff[:len(ff)-1], " "), true
	}
	if len(f) != 3 {
		return time.Time{}, "", false, errUsage
	}
	if t, err = when.Parse(strings.Join(f, " ")); err != nil {
		return time.Time{}, "", false, err
	}
	return t, force, noEmbargo, nil
}
