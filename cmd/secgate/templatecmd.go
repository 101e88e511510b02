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
	sel := configFlag(fs)
	asJSON := jsonFlag(fs)
	if _, err := c.parse(a, fs, args, 0); err != nil {
		return err
	}
	projects, err := sel.projects()
	if err != nil {
		return err
	}
	return perProject(a, projects, *asJSON, func(a *app, cfg *Config) error {
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
	})
}

func runTemplateRender(ctx context.Context, a *app, c *command, args []string) error {
	fs := c.flagSet(a)
	sel := configFlag(fs)
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
	// The project's texts: -project's, the only one's, or the case's.
	var cfg *Config
	if *caseRef != "" {
		cfg, err = sel.forCase(*caseRef)
	} else {
		cfg, err = sel.one()
	}
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
		if data, err = caseTemplateData(ctx, a, cfg, set, *caseRef, *text, data); err != nil {
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
func caseTemplateData(ctx context.Context, a *app, cfg *Config, set *templates.Set, ref string, text bool, data templates.Data) (templates.Data, error) {
	v, err := openView(ctx, a, cfg, text)
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
	s, err := schedule.New(schedule.Options{DB: v.db, Directory: v.dir, Outbox: readOnlyOutbox{}, Templates: set,
		TeamAddress: cfg.Gateway.Team, Config: cfg.Schedule})
	if err != nil {
		return data, err
	}
	cd, err := s.CaseData(ctx, v.db.Reader(), cs)
	if err != nil {
		return data, err
	}
	if !text {
		// Without the team key the texts stored encrypted read as empty:
		// say so where the case has them.
		const sealed = "[encrypted at rest; render with -text to see it]"
		var hasDetails bool
		if err := v.db.Reader().QueryRowContext(ctx, `SELECT details_enc IS NOT NULL FROM cases WHERE id = ?`, cs.ID).Scan(&hasDetails); err != nil {
			return data, err
		}
		if cs.Impact != "" {
			cd.Case.Impact = sealed
		}
		if hasDetails {
			cd.Case.Title, cd.Case.Component, cd.Case.Mitigation = sealed, sealed, sealed
			cd.Case.Patches, cd.Case.References = []string{sealed}, []string{sealed}
		}
	}
	data.Case, data.Plan = cd.Case, cd.Plan
	if cd.Case.Lead.Fingerprint != "" {
		data.Actor = cd.Case.Lead
	}
	return data, nil
}
