package cases

import (
	"bytes"
	"fmt"
	"strings"
	"text/template"

	"github.com/secgate/secgate/templates"
)

// Fallback texts for messages the template set does not have (yet). Each
// has the template file form: "Subject: ..." line, blank line, body.
var fallbackSources = map[string]string{
	"answer-done": `Subject: [{{.Case.Ref}}] Done
{{if .Actor.Name}}{{.Actor.Name}}, your{{else}}Your{{end}} commands were applied:
{{range .Answer.Done}}
- {{.}}{{end}}
{{if .Answer.Notes}}
Notes:
{{range .Answer.Notes}}
- {{.}}{{end}}
{{end}}
Case {{.Case.Ref}} is now {{.Case.State}}.
`,
	"answer-refused": `Subject: [{{.Case.Ref}}] Refused: nothing was changed
Your commands were NOT applied (all or nothing):

{{.Answer.Refused}}
{{if .Answer.Commands}}
Commands received:
{{range .Answer.Commands}}  {{.}}
{{end}}{{end}}
"/help" lists the commands.
`,
	"answer-help": `Subject: [{{.Case.Ref}}] Commands
{{range .Answer.Help}}
  {{.Usage}}
      {{.Text}}{{end}}
`,
	"answer-log": `Subject: [{{.Case.Ref}}] Audit log
Audit log of {{.Case.Ref}} (state {{.Case.State}}):
{{range .Answer.Log}}
{{.At.UTC.Format "2006-01-02 15:04:05Z"}}  {{.Actor}}  {{.Action}}{{if .Detail}}: {{.Detail}}{{end}}{{end}}
`,
	"incomplete": `Subject: [{{.Case.Ref}}] More information needed
Hello,

Thank you for your report {{.Case.Ref}}. We could not yet confirm whether it
warrants a security advisory. Please reply with the version you tested, the
steps to reproduce the problem, and what an attacker gains.

The report stays private in the meantime. Please keep it under embargo.

-- 
{{.Project.TeamAddress}}
`,
	// decision: the reporter is told the case ends as invalid or wontfix.
	"decision": `Subject: [{{.Case.Ref}}] Decision on your report
Hello,

Thank you for your report {{.Case.Ref}}. We have looked at it carefully and
{{if eq .Case.State "invalid"}}concluded that it is not a vulnerability in the project{{else if eq .Case.State "opinion"}}concluded that it is best handled by a security note rather than an advisory{{else}}decided not to fix it as a security issue{{end}}.
{{if .Reason}}
Reason: {{.Reason}}
{{end}}
{{if eq .Case.State "opinion"}}We will tell you before the note is published; until then please keep the
report private.{{else}}This decision is final: the case is closed, and a reply does not reopen it.
You are free to discuss the issue publicly. If you have new information
that could change the decision, please send it to {{.Project.TeamAddress}}
as a new message, not as a reply to this one: it will be evaluated as a
new report.{{end}}

-- 
{{.Project.TeamAddress}}
`,
	// reply: /reply text from the team to the reporter.
	"reply": `Subject: [{{.Case.Ref}}] Re: your report
{{.Message.Text}}

-- 
{{.Project.TeamAddress}}
`,
	// team-summary: what a command mail or a step of the timeline changed,
	// to the other members.
	"team-summary": `Subject: [{{.Case.Ref}}] {{if .Actor.Fingerprint}}{{.Actor.Name}}{{else}}Timeline{{end}}: now {{.Case.State}}
{{if .Actor.Fingerprint}}{{.Actor.Name}} <{{.Actor.Address}}> (key {{.Actor.Fingerprint}}) changed {{.Case.Ref}}{{else}}The gateway carried out a step of the timeline of {{.Case.Ref}}: {{.Reason}}{{end}}:
{{range .Answer.Done}}
- {{.}}{{end}}
{{if .Message.Text}}
----- comment -----
{{.Message.Text}}
----- end of comment -----
{{end}}{{range .Answer.Replies}}
----- sent to the reporter -----
{{.}}
----- end -----
{{end}}
Case {{.Case.Ref}} is now {{.Case.State}}.{{if .Plan.Next}}
Next: {{.Plan.Next}}, {{.Plan.NextAt.UTC.Format "2006-01-02 15:04 UTC"}}.{{end}}
`,
	// reporter-confirmed: the report is confirmed, work on a fix begins.
	"reporter-confirmed": `Subject: [{{.Case.Ref}}] Confirmed: work on a fix has begun
Hello,

We have confirmed your report {{.Case.Ref}} as a vulnerability, and work on
a fix has begun. We will tell you the date of the public disclosure as soon
as it is planned; until then, please keep the report private. Would you like
to be credited in the advisory? Reply with the name to use.

-- 
{{.Project.TeamAddress}}
`,
	// reporter-published: the report is public.
	"reporter-published": `Subject: [{{.Case.Ref}}] Published
Hello,

Your report {{.Case.Ref}} has been made public.{{if .Case.AdvisoryLink}}
The advisory: {{.Case.AdvisoryLink}}{{end}}

The embargo is over. Thank you for reporting it to us.

-- 
{{.Project.TeamAddress}}
`,
	// handoff-offer: the fix lead offers the lead role to a member.
	"handoff-offer": `Subject: [{{.Case.Ref}}] You are offered the fix lead
{{.Actor.Name}} ({{.Actor.Fingerprint}}) offers you the fix lead for {{.Case.Ref}}.

Reply with a signed "/lead accept" to take it. Until then {{.Actor.Name}} stays the lead.
`,
	// handoff-confirm: the gateway confirms a completed hand-off to both sides.
	"handoff-confirm": `Subject: [{{.Case.Ref}}] Fix lead is now {{.Case.Lead.Name}}
Confirmed: {{.Case.Lead.Name}} <{{.Case.Lead.Address}}> ({{.Case.Lead.Fingerprint}}) is the fix lead for {{.Case.Ref}}.
{{if .Reason}}
Reason: {{.Reason}}
{{end}}`,
}

var fallbacks = func() map[string]*template.Template {
	m := make(map[string]*template.Template, len(fallbackSources))
	for n, src := range fallbackSources {
		m[n] = template.Must(template.New(n).Option("missingkey=error").Parse(src))
	}
	return m
}()

// renderFallback renders one of the built-in texts.
func renderFallback(name string, d templates.Data) (subject, body string, err error) {
	t, ok := fallbacks[name]
	if !ok {
		return "", "", fmt.Errorf("cases: no template %q", name)
	}
	var b bytes.Buffer
	if err := t.Execute(&b, d); err != nil {
		return "", "", fmt.Errorf("cases: fallback %s: %w", name, err)
	}
	first, rest, _ := strings.Cut(b.String(), "\n")
	subject = templates.HeaderSafe(strings.TrimPrefix(first, "Subject: "))
	body = strings.TrimLeft(rest, "\n")
	body = strings.TrimRight(body, "\n") + "\n"
	return subject, body, nil
}
