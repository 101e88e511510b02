package intake

import (
	"errors"
	"fmt"
	"strings"
	"text/template"

	"github.com/secgate/secgate/templates"
)

// fallbackQuarantined is the polite answer to a sender whose message was
// held, used while the template set has no "quarantined" template. It
// never quotes the message.
const fallbackQuarantined = `{{/* fields: .Project.Name .Project.Team .Project.TeamAddress .Project.KeyFingerprint .Reason */ -}}
Subject: Your message to {{.Project.TeamAddress}} was held

Hello,

Your message to {{.Project.TeamAddress}} was received but not processed
automatically, for this reason:

  {{.Reason}}

It has been kept for the {{.Project.Name}} security team, who may follow up.
If you are reporting a vulnerability, please send a smaller, simpler message
(plain text, few attachments){{if .Project.KeyFingerprint}}, encrypted to our
team key {{.Project.KeyFingerprint}}{{end}}.

You will not get this notice again for further messages today.

-- 
{{if .Project.Team}}{{.Project.Team}}{{else}}{{.Project.Name}} security team{{end}} <{{.Project.TeamAddress}}>
`

var fallbackTemplates = map[string]*template.Template{
	TemplateQuarantined: template.Must(template.New(TemplateQuarantined).Parse(fallbackQuarantined)),
}

// render renders name from the set, or from the built-in fallback when the
// set does not know it.
func (p *Processor) render(name string, data templates.Data) (templates.Text, error) {
	txt, err := p.o.Texts.Render(name, data)
	if err == nil || !errors.Is(err, templates.ErrUnknown) {
		return txt, err
	}
	t, ok := fallbackTemplates[name]
	if !ok {
		return templates.Text{}, err
	}
	var b strings.Builder
	if err := t.Execute(&b, data); err != nil {
		return templates.Text{}, fmt.Errorf("intake: fallback %s: %w", name, err)
	}
	subject, body, _ := strings.Cut(b.String(), "\n\n")
	return templates.Text{
		Subject: templates.HeaderSafe(strings.TrimPrefix(subject, "Subject: ")),
		Body:    strings.TrimRight(body, "\n") + "\n",
	}, nil
}
