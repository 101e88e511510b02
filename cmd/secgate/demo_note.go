package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/secgate/secgate/schedule"
)

// securityNote runs a second report under the kata preset, one whose class
// (B1: a vulnerability that only master can fix) leads to a security note,
// Kata's KCSN, not an advisory. The case waits for its note in opinion; the
// note is planned like a disclosure, with the reporter's consent, but has
// no embargo: the distributors get nothing, and at T0 the public list gets
// the note, signed, under its own ID.
func (d *demo) securityNote(ctx context.Context, n string) error {
	d.step(n + ". A second report, class B1 (Kata): a security note with its own ID at T0, and no embargo notice")
	if err := d.sendReport(ctx, "Debug console open by default", "the debug console is enabled by default in the stable\r\n"+
		"releases and accepts connections from any local user.", false); err != nil {
		return err
	}
	d.expect(ctx, "the second report is acknowledged", func(ds []delivery) bool { return d.count(ds, demoReporter, "ack") >= 2 })
	c, err := d.theCase(ctx, 2)
	if err != nil {
		return err
	}
	lead, _ := d.leadOf(c)
	fmt.Fprintf(d.out, "   case %s opened, state %s; fix lead from the rota: %s\n", c.Ref, c.State, lead)
	if err := d.command(ctx, lead, c.Ref, strings.Join([]string{
		"/class B1",
		"/title Debug console enabled by default in the stable releases",
		"/component runtime",
		"/affected < 1.14.2",
		"/impact Any local user can open the debug console of a stable release.",
		"/mitigation Set debug_console_enabled = false in the configuration.",
		"/credit Rita Reporter",
		"/status opinion",
		"",
		"Only master can change the default: a security note for the stable branches.",
	}, "\n")); err != nil {
		return err
	}
	d.expect(ctx, "the reporter hears that her report leads to a security note, encrypted to her key", func(ds []delivery) bool {
		for _, dl := range ds {
			if s := d.open(dl); dl.To == demoReporter && s.caseID == c.ID && s.kind == "reporter" && s.encrypted && strings.Contains(s.text, "handled by a security note") {
				return true
			}
		}
		return false
	})
	t0, err := d.pickNoteT0(d.clock.Now())
	if err != nil {
		return err
	}
	if err := d.command(ctx, lead, c.Ref, "/disclose "+t0.Format("2006-01-02 15:04")+" UTC"); err != nil {
		return err
	}
	d.expect(ctx, "the plan's answer says: no embargo, a security note at T0", func(ds []delivery) bool {
		for _, dl := range ds {
			if s := d.open(dl); dl.To == lead && s.caseID == c.ID && s.kind == "answer" && strings.Contains(s.text, "no embargo") &&
				strings.Contains(s.text, "publishes a security note") {
				return true
			}
		}
		return false
	})
	if pol, err := d.g.sched.Policy(c.Policy); err == nil && pol.ReporterConsent {
		if err := d.agree(ctx, c.Ref, ""); err != nil {
			return err
		}
	}
	fmt.Fprintf(d.out, "   plan: no embargo notice, security note public at %s\n", stamp(t0))

	d.advance(t0)
	idRE := regexp.MustCompile(fmt.Sprintf(`^%s-%04d-\d{3}: `, schedule.DefaultNotePrefix, t0.UTC().Year()))
	var id string
	d.expect(ctx, "the security note goes to the public list at T0, signed, with its "+schedule.DefaultNotePrefix+"-YYYY-NNN ID", func(ds []delivery) bool {
		for _, dl := range ds {
			if s := d.open(dl); dl.To == d.announce() && s.caseID == c.ID && s.kind == "announcement" && s.signedOK && !s.encrypted &&
				!dl.At.Before(t0) && idRE.MatchString(s.subject) && strings.Contains(s.text, "Set debug_console_enabled = false") {
				id, _, _ = strings.Cut(s.subject, ":")
				return true
			}
		}
		return false
	})
	d.expect(ctx, "the note's ID is the case's, never given twice, and the note is written as ID.md", func([]delivery) bool {
		got, ok, err := d.g.sched.NoteID(ctx, c.ID)
		if err != nil || !ok || got != id {
			return false
		}
		_, err = os.Stat(filepath.Join(d.g.cfg.Schedule.ArtifactsDir, id+".md"))
		return err == nil
	})
	d.expect(ctx, "nothing went to the distributors for the note: no embargo notice, no pre-release notice, no announcement", func(ds []delivery) bool {
		for _, dl := range ds {
			if strings.HasPrefix(dl.To, "security@distro-") && d.open(dl).caseID == c.ID {
				return false
			}
		}
		return true
	})
	d.expect(ctx, "the case waits in opinion, for the lead to close it", func([]delivery) bool {
		cc, err := d.g.workflow.Get(ctx, c.Ref)
		return err == nil && cc.State == "opinion"
	})
	return nil
}

// pickNoteT0 returns the first time after now that the policy allows for a
// disclosure without embargo (Kata: 00:00 UTC, Tuesday to Thursday).
func (d *demo) pickNoteT0(now time.Time) (time.Time, error) {
	p, err := d.g.sched.Policy(d.preset)
	if err != nil {
		return time.Time{}, err
	}
	day := now.Truncate(24 * time.Hour)
	for i := 1; i <= 14; i++ {
		for _, h := range []int{0, 16} {
			t0 := day.AddDate(0, 0, i).Add(time.Duration(h) * time.Hour)
			if _, err := p.Plan(now.Add(time.Hour), t0, time.Time{}, "", schedule.PlanInfo{NoEmbargo: true}); err == nil {
				return t0, nil
			}
		}
	}
	return time.Time{}, fmt.Errorf("demo: no date for a security note within 14 days fits the %s policy", d.preset)
}
