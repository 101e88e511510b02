package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/secgate/secgate/cases"
	"github.com/secgate/secgate/schedule"
	"github.com/secgate/secgate/templates"
)

func runTemplateList(ctx context.Context, a *app, c *command, args []string) error {
	fs := c.flagSet(a)
	path := configFlag(fs)
	asJSON := jsonFlag(fs)
	if _, err := c.parse(a, fs, args, 0); err != nil {
		return err
	}
	cfg, err := loadConfig(*path)
	if err != nil {
		return err
	}
	set, err := templates.Load(cfg.Gateway.Templates)
	if err != nil {
		return fmt.Errorf("gateway.templates: %w", err)
	}
	type entry struct {
		Name   string `json:"name"`
		Source string `json:"source"`
	}
	var out []entry
	for _, n := range templates.Names() {
		out = append(out, entry{n, set.Source(n)})
	}
	if *asJSON {
		return a.printJSON(out)
	}
	tw := newTable(a.stdout)
	fmt.Fprintln(tw, "TEMPLATE\tSOURCE")
	for _, e := range out {
		fmt.Fprintf(tw, "%s\t%s\n", e.Name, e.Source)
	}
	return tw.Flush()
}

func runTemplateRender(ctx context.Context, a *app, c *command, args []string) error {
	fs := c.flagSet(a)
	path := configFlag(fs)
	asJSON := jsonFlag(fs)
	caseRef := fs.String("case", "", "fill the text with case `REF` (default: sample data)")
	text := fs.Bool("text", false, "with -case: decrypt the case's impact text (needs the team key passphrase)")
	pos, err := c.parse(a, fs, args, 1)
	if err != nil {
		return err
	}
	name := strings.TrimSuffix(pos[0], templates.Ext)
	if !slices.Contains(templates.Names(), name) {
		return fmt.Errorf("no template %q (see secgate template list)", name)
	}
	cfg, err := loadConfig(*path)
	if err != nil {
		return err
	}
	set, err := templates.Load(cfg.Gateway.Templates)
	if err != nil {
		return fmt.Errorf("gateway.templates: %w", err)
	}
	data := templates.Sample()
	fpr := ""
	if k, err := teamPublicKey(cfg); err == nil {
		fpr = k.Fingerprint()
	}
	data.Project = cfg.project(fpr)
	data.Now = time.Now().UTC()
	if *caseRef != "" {
		if data, err = caseTemplateData(ctx, a, cfg, set, *path, *caseRef, *text, data); err != nil {
			return err
		}
	}
	t, err := set.Render(name, data)
	if err != nil {
		return err
	}
	if *asJSON {
		return a.printJSON(map[string]any{"template": name, "source": set.Source(name), "case": *caseRef, "subject": t.Subject, "body": t.Body})
	}
	fmt.Fprintf(a.stdout, "Subject: %s\n\n%s", t.Subject, t.Body)
	return nil
}

// caseTemplateData replaces the case part of sample data (and the plan,
// when the case has one) with what the gateway knows of case ref. The other
// parts (the message relayed, a command answer...) stay sample data.
func caseTemplateData(ctx context.Context, a *app, cfg *Config, set *templates.Set, path, ref string, text bool, data templates.Data) (templates.Data, error) {
	v, err := openView(ctx, a, path, text)
	if err != nil {
		return data, err
	}
	defer v.Close()
	w, err := v.workflow()
	if err != nil {
		return data, err
	}
	cs, err := w.Get(ctx, strings.ToUpper(ref))
	if errors.Is(err, cases.ErrNotFound) {
		return data, fmt.Errorf("no case %s (see secgate case list)", ref)
	}
	if err != nil {
		return data, err
	}
	impact := cs.Impact
	if !text && impact != "" {
		impact = "[impact description encrypted at rest; render with -text to see it]"
	}
	d := templates.CaseData{
		Ref: cs.Ref, State: string(cs.State), Class: cs.Class, Policy: cs.Policy,
		CVSSVector: cs.CVSSVector, CVSSScore: cs.CVSSScore, Severity: cs.Severity, CVE: cs.CVE, Advisory: cs.Advisory,
		Affected: cs.Affected, Fixed: cs.Fixed, Credit: cs.Credit, CreditConsent: cs.CreditConsent == cases.ConsentYes,
		Impact: impact, Reporter: templates.Person{Address: cs.ReporterAddr}, Received: cs.Received,
		DiscloseAt: cs.DiscloseAt, Embargoed: !cs.DiscloseAt.IsZero() && cs.State != cases.StateFixReleased && cs.State != cases.StateClosed,
	}
	if cs.Lead != "" {
		if m, err := v.dir.MemberByFingerprint(ctx, cs.Lead); err == nil {
			d.Lead = templates.Person{Name: m.Name, Address: m.Address, Fingerprint: m.Fingerprint, TZ: m.TZ}
		} else {
			d.Lead = templates.Person{Fingerprint: cs.Lead}
		}
	}
	data.Plan = templates.PlanData{LeadTZ: d.Lead.TZ}
	s, err := schedule.New(schedule.Options{DB: v.db, Directory: v.dir, Outbox: readOnlyOutbox{}, Templates: set,
		TeamAddress: cfg.Gateway.Team, Config: cfg.Schedule})
	if err != nil {
		return data, err
	}
	if pol, err := s.Policy(cs.Policy); err == nil && !cs.Received.IsZero() {
		if pol.EvaluationDeadline > 0 {
			d.EvaluateBy = cs.Received.Add(pol.EvaluationDeadline)
		}
		if pol.FixDeadline > 0 {
			d.FixBy = cs.Received.Add(pol.FixDeadline)
		}
	}
	if tl, published, ok, err := s.CurrentPlan(ctx, cs.ID); err == nil && ok {
		data.Plan = templates.PlanData{T0: tl.T0, EmbargoNotice: tl.Notice, PreRelease: tl.PreRelease,
			RetroFrom: tl.RetroFrom, RetroTo: tl.RetroTo, LeadTZ: d.Lead.TZ, Forced: tl.Forced, Warnings: tl.Warnings}
		d.DiscloseAt = tl.T0
		d.Embargoed = published.IsZero()
	}
	data.Case = d
	if d.Lead.Fingerprint != "" {
		data.Actor = d.Lead
	}
	return data, nil
}
