package cases

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/secgate/secgate/templates"
)

// Details is what the team writes about a case for the notices and the
// advisory beyond its other fields: /title, /component, /mitigation,
// /patch and /reference. They are stored together, encrypted at rest
// (cases.details_enc): a title names the vulnerability.
type Details struct {
	Title      string   `json:"title,omitempty"`
	Component  string   `json:"component,omitempty"`
	Mitigation string   `json:"mitigation,omitempty"`  // mitigations and workarounds (block)
	Patches    []string `json:"patches,omitempty"`     // where the fixes are: commits, pull requests, files
	PatchFiles []string `json:"patch_files,omitempty"` // names of the patch files the notices carry (KindPatch messages)
	References []string `json:"references,omitempty"`  // URLs for the advisory, OSV and CVE records
	Release    string   `json:"release,omitempty"`     // where the fixed release and its binaries are (KubeEdge: the release notes)
}

func (d Details) empty() bool {
	return d.Title == "" && d.Component == "" && d.Mitigation == "" && len(d.Patches) == 0 && len(d.PatchFiles) == 0 &&
		len(d.References) == 0 && d.Release == ""
}

// sealDetails encrypts d at rest; nil when d is empty.
func (w *Workflow) sealDetails(d Details) ([]byte, error) {
	if d.empty() {
		return nil, nil
	}
	js, err := json.Marshal(d)
	if err != nil {
		return nil, err
	}
	return w.seal(string(js))
}

// openDetails decrypts what sealDetails stored.
func (w *Workflow) openDetails(ct []byte) (Details, error) {
	var d Details
	js, err := w.open(ct)
	if err != nil || js == "" {
		return d, err
	}
	if err := json.Unmarshal([]byte(js), &d); err != nil {
		return d, fmt.Errorf("cases: details: %w", err)
	}
	return d, nil
}

// TemplateData returns the fields of c that texts show. Callers add what
// they know beyond the case (its lead, its plan, deadlines).
func (c *Case) TemplateData() templates.CaseData {
	return templates.CaseData{
		Ref: c.Ref, State: string(c.State), Class: c.Class, ClassMeaning: classMeaning(c.Class), Policy: c.Policy, Title: c.Title, Component: c.Component,
		CVSSVector: c.CVSSVector, CVSSScore: c.CVSSScore, Severity: c.Severity, CVE: c.CVE, Advisory: c.Advisory,
		Affected: c.Affected, Fixed: c.Fixed, Credit: c.Credit, CreditConsent: c.CreditConsent == ConsentYes, CreditAnswer: c.CreditConsent,
		Impact: c.Impact, Mitigation: c.Mitigation, Patches: c.Patches, References: c.References, Release: c.Release,
		Reporter: templates.Person{Address: c.ReporterAddr}, Received: c.Received, DiscloseAt: c.DiscloseAt,
	}
}

// addOrClear applies "/patch TEXT" or "/reference URL" to list: TEXT is
// added (once), "none" clears the list.
func addOrClear(list []string, rest string) ([]string, string) {
	if strings.EqualFold(rest, "none") {
		return nil, "cleared"
	}
	for _, x := range list {
		if x == rest {
			return list, "already listed: " + short(rest)
		}
	}
	return append(list, rest), "added: " + short(rest)
}
