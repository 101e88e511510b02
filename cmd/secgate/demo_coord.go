package main

import (
	"bytes"
	"context"
	"fmt"
	"net/mail"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/secgate/secgate/cases"
	"github.com/secgate/secgate/schedule"
)

// The knative demo of one project shows the distributors' side of an
// embargo (issue #18): a second embargo list, distros, told at its own time
// under its own rules (at most 14 days, subjects tagged [vs]), with Distro
// One on both lists; a new distributor's application by mail, approved by a
// lead's signed /list approve before the notice; acknowledgements of the
// notices, each a reply signed by the distributor's key holding the code
// of the notice it answers; the reminder to the one who stays silent, and
// its acknowledgement of the reminder. The other presets, and the demo of
// several projects, run as before.

const (
	demoOne   = "security@distro-one.example"
	demoTwo   = "security@distro-two.example"
	demoThree = "security@distro-three.example"
	demoFour  = "security@distro-four.example" // applies to the embargo list
	demoFive  = "security@distro-five.example" // on the distros list alone

	demoDistros    = "distros"
	demoDistrosMax = 14 * 24 * time.Hour // its max_embargo
	demoDistrosTag = "[vs]"              // its subject_tag
)

// demoCoordPeople join the knative demo of one project.
var demoCoordPeople = []demoPerson{
	{"Distro Four", demoFour, "applicant"},
	{"Distro Five", demoFive, "distros"},
}

// coord reports whether this run shows the distributors' coordination: the
// knative demo of one project.
func (d *demo) coord() bool { return d.preset == "knative" && d.tag == "" }

// cast returns the run's participants.
func (d *demo) cast() []demoPerson {
	if !d.coord() {
		return demoPeople
	}
	return slices.Concat(demoPeople, demoCoordPeople)
}

// onDistros reports whether p is on the distros list: Distro Five, and
// Distro One, which is on both lists.
func (d *demo) onDistros(p demoPerson) bool {
	return d.coord() && (p.role == "distros" || p.addr == demoOne)
}

// distributors returns the distributors whose keys are valid: each gets
// the notices of its lists.
func (d *demo) distributors() []string {
	if !d.coord() {
		return []string{demoOne, demoTwo}
	}
	return []string{demoOne, demoTwo, demoFour, demoFive}
}

// setupLine is the title of the setup step.
func (d *demo) setupLine() string {
	if !d.coord() {
		return "Setup: keys for the team, two members, a reporter and three distributors (one key expired)"
	}
	return "Setup: keys for the team, two members, a reporter and five distributors (one key expired, one yet to apply);\n" +
		"two embargo lists: embargo, and distros (at most 14 days, subjects tagged " + demoDistrosTag + "); the knative policy's audiences name both"
}

// describePerson returns the role column of p in the setup step, and a
// note after the fingerprint.
func (d *demo) describePerson(p demoPerson) (role, note string) {
	switch {
	case p.role == "expired":
		return p.role, "  (expired)"
	case p.role == "applicant":
		return p.role, "  (on no list: applies by mail)"
	case p.role == "distros":
		return "distributor", "  (distros)"
	case p.role == "distributor" && d.coord():
		if d.onDistros(p) {
			return p.role, "  (embargo, distros)"
		}
		return p.role, "  (embargo)"
	}
	return p.role, ""
}

// applications is the line of the embargo list that makes it take
// applications by mail.
func (d *demo) applications() string {
	if !d.coord() {
		return ""
	}
	return "applications = true\n"
}

// distrosConfig is the end of the configuration: the distros list with
// its rules and its recipients, and the knative policy naming both lists.
func (d *demo) distrosConfig(recipients string) string {
	if !d.coord() {
		return ""
	}
	return fmt.Sprintf("\n[[distlist.list]]\nname = %q\nkind = \"embargo\"\nmax_embargo = %q\nsubject_tag = %q\n%s\n"+
		"[schedule.policies.knative]\naudiences = [\"embargo\", %q]\n", demoDistros, demoDistrosMax.String(), demoDistrosTag, recipients, demoDistros)
}

// short is how checks name a distributor: distro-one.
func short(addr string) string {
	_, domain, _ := strings.Cut(addr, "@")
	return strings.TrimSuffix(domain, ".example")
}

// application has Distro Four apply to the embargo list by mail, before the
// case's notice: signed, encrypted to the team key, its key attached, with
// the rationale the list's criteria ask for. The members get it; Alice
// approves it with a signed /list approve in a mail on case ref; Distro
// Four gets the welcome.
func (d *demo) application(ctx context.Context, ref string) error {
	approver := d.member(0)
	d.step("3a. A new distributor applies to the embargo list by mail; " + approver + " approves")
	four := d.keys[demoFour]
	keyPart, err := keyAttachment(four, "distro-four.asc")
	if err != nil {
		return err
	}
	entity := "Content-Type: multipart/mixed; boundary=\"r\"\r\n\r\n--r\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" +
		"/apply embargo\r\n\r\n" +
		"Distro Four ships demo-server in Distro Four Linux, about 20 000 installations.\r\n" +
		"Our security team has shipped fixed packages within days of each advisory since 2019.\r\n" +
		"We accept the embargo policy, and read and answer OpenPGP mail: our key is attached.\r\n\r\nDistro Four Security\r\n" + keyPart
	d.flush()
	fmt.Fprintf(d.out, "   %s  <- %-31s %s\n", stamp(d.clock.Now()), demoFour, "/apply embargo  (signed, encrypted to the team key, its key attached)")
	if err := d.submit(ctx, demoFour, "Application to the embargo list", entity, four); err != nil {
		return err
	}
	var app string
	d.expect(ctx, "the members get the application, encrypted, with the applicant's key and the criteria; the applicant gets a receipt", func(ds []delivery) bool {
		apps, err := d.g.workflow.Applications(ctx, cases.AppPending)
		if err != nil || len(apps) != 1 || apps[0].Address != demoFour || apps[0].Fingerprint != four.Fingerprint() {
			return false
		}
		app = apps[0].Ref
		got := 0
		for _, dl := range ds {
			s := d.open(dl)
			switch {
			case (dl.To == d.member(0) || dl.To == d.member(1)) && s.kind == cases.MailApplication && s.encrypted &&
				strings.Contains(s.text, app) && strings.Contains(s.text, four.Fingerprint()) && strings.Contains(s.text, "[ ] Which distribution"):
				got++
			case dl.To == demoFour && s.kind == cases.MailApplicant && s.encrypted && strings.Contains(s.text, app):
				got++
			}
		}
		return got == 3
	})
	if app == "" {
		return fmt.Errorf("demo: no application of %s", demoFour)
	}
	d.expect(ctx, "the application is on no list before a lead approves it", func([]delivery) bool {
		return !d.onList(ctx, "embargo", demoFour)
	})
	if err := d.command(ctx, approver, ref, "/list approve "+app); err != nil {
		return err
	}
	d.expect(ctx, "the application's welcome reached "+short(demoFour)+", encrypted to the key it applied with", func(ds []delivery) bool {
		for _, dl := range ds {
			if s := d.open(dl); dl.To == demoFour && s.kind == cases.MailApplicant && s.encrypted && strings.Contains(s.text, "was approved") {
				return true
			}
		}
		return false
	})
	d.expect(ctx, short(demoFour)+" is on the embargo list, with the key it applied with", func([]delivery) bool {
		return d.onList(ctx, "embargo", demoFour)
	})
	return nil
}

// onList reports whether addr is on list with its demo key.
func (d *demo) onList(ctx context.Context, list, addr string) bool {
	l, err := d.g.dir.List(ctx, list)
	if err != nil {
		return false
	}
	for _, r := range l.Recipients {
		if r.Address == addr && r.Key != nil && r.Key.Fingerprint() == d.keys[addr].Fingerprint() {
			return true
		}
	}
	return false
}

// coordinate runs the distributors' part of the embargo of case c, planned
// as tl by lead: the plan of each list, the acknowledgements of the embargo
// notice, the reminder to the silent distributor, and the distros list
// told 14 days before T0.
func (d *demo) coordinate(ctx context.Context, c *cases.Case, lead string, tl schedule.Timeline) error {
	inLists := false
	for _, l := range strings.Split(d.planAnswer(lead, c.Ref), "\n") {
		if l = strings.TrimSpace(l); l == "Lists:" {
			inLists = true
		} else if inLists && l == "" {
			break
		} else if inLists {
			fmt.Fprintf(d.out, "   plan list: %s\n", l)
		}
	}
	distrosAt := tl.T0.Add(-demoDistrosMax)
	d.expect(ctx, "the plan's answer to the lead says the distros list is told 14 days before T0, "+stamp(distrosAt)+", tagged "+demoDistrosTag, func([]delivery) bool {
		text := strings.Join(strings.Fields(d.planAnswer(lead, c.Ref)), " ")
		return strings.Contains(text, "embargo: told now") && strings.Contains(text, "distros: not told now") &&
			strings.Contains(text, "it is told 14 days before disclosure, "+distrosAt.UTC().Format("2006-01-02 15:04 UTC")) &&
			strings.Contains(text, "subjects tagged "+demoDistrosTag)
	})
	d.expect(ctx, short(demoFour)+", approved, gets the embargo notice; the distros list is not told yet", func(ds []delivery) bool {
		return d.count(ds, demoFour, "embargo-notice") == 1 && d.count(ds, demoFive) == 0 && d.count(ds, demoOne, "embargo-notice") == 1
	})

	d.step("5a. Distro One and Distro Four acknowledge the embargo notice: replies signed by their keys, quoting its code;\n" +
		"a reply in Distro Two's name with the same code, signed by Distro Four's key, does not count")
	for _, who := range []string{demoOne, demoFour} {
		if err := d.acknowledge(ctx, c, who, "embargo-notice", ""); err != nil {
			return err
		}
	}
	if err := d.forgeAck(ctx, c, demoTwo, demoFour); err != nil {
		return err
	}

	pol, err := d.g.sched.Policy(c.Policy)
	if err != nil {
		return err
	}
	// The reminder is due ack_reminder after the delivery the outbox
	// recorded (the SMTP 250), which the scheduler reads.
	acks, err := d.g.sched.Acks(ctx, c.ID)
	if err != nil {
		return err
	}
	var delivered time.Time
	for _, a := range acks {
		if a.Recipient == demoTwo && a.Kind == "embargo-notice" {
			delivered = a.Delivered
		}
	}
	if delivered.IsZero() {
		return fmt.Errorf("demo: the embargo notice to %s is not delivered", demoTwo)
	}
	d.step(fmt.Sprintf("5b. Distro Two stays silent: it is reminded %s after the notice, and acknowledges the reminder two hours later", schedule.FormatDuration(pol.AckReminder)))
	d.advance(delivered.Add(pol.AckReminder))
	d.expect(ctx, short(demoTwo)+", silent, is reminded once, in the thread of its notice, with the notice's code", func(ds []delivery) bool {
		for _, dl := range ds {
			if s := d.open(dl); dl.To == demoTwo && s.kind == schedule.MailAckReminder && s.encrypted && demoAckLine.MatchString(s.text) {
				return d.count(ds, demoTwo, schedule.MailAckReminder) == 1
			}
		}
		return false
	})
	d.advance(d.clock.Now().Add(2 * time.Hour)) // it reads the reminder, and answers
	if err := d.acknowledge(ctx, c, demoTwo, schedule.MailAckReminder, ""); err != nil {
		return err
	}

	d.step("5c. 14 days before T0 the distros list is told, subjects tagged " + demoDistrosTag + "; Distro Five and Distro One acknowledge it")
	d.advance(distrosAt)
	d.expect(ctx, "distros told 14 days before T0 with "+demoDistrosTag+", Distro One once per list", func(ds []delivery) bool {
		told := map[string]int{}
		for _, dl := range ds {
			if s := d.open(dl); s.kind == "embargo-notice" && strings.HasPrefix(s.subject, demoDistrosTag+" ") {
				if dl.At.Before(distrosAt) {
					return false
				}
				told[dl.To]++
			}
		}
		return told[demoFive] == 1 && told[demoOne] == 1 && len(told) == 2 && d.count(ds, demoOne, "embargo-notice") == 2
	})
	for _, who := range []string{demoFive, demoOne} {
		if err := d.acknowledge(ctx, c, who, "embargo-notice", demoDistrosTag); err != nil {
			return err
		}
	}
	return nil
}

// demoAckLine is the line of a notice that asks for its acknowledgement.
var demoAckLine = regexp.MustCompile(`(?m)^\s*/ack (ACK-[A-Z2-7]{12})\s*$`)

// acknowledge has distributor who reply to the newest mail of kind it got
// about case c (the distros list's, tag set, or the other's): in
// its thread, signed by who's key and encrypted to the team key, quoting
// its /ack line, as a mail client does. It checks that the
// acknowledgement counted.
func (d *demo) acknowledge(ctx context.Context, c *cases.Case, who, kind, tag string) error {
	id, what, err := d.ackReply(ctx, c, who, who, kind, tag)
	if err != nil {
		return err
	}
	d.expect(ctx, short(who)+"'s acknowledgement of "+what+" counted", func([]delivery) bool {
		acks, err := d.g.sched.Acks(ctx, c.ID)
		for _, a := range acks {
			if err == nil && a.Recipient == who && a.AckMessageID == id && !a.Acknowledged.IsZero() {
				return true
			}
		}
		return false
	})
	d.clock.Advance(time.Minute)
	return nil
}

// forgeAck has signer, who got the same embargo notice and so knows its
// code, send an acknowledgement in who's name and thread, signed by
// signer's own key. It checks that it did not count, and that the team copy
// says why: it is not signed by who's key on file.
func (d *demo) forgeAck(ctx context.Context, c *cases.Case, who, signer string) error {
	id, _, err := d.ackReply(ctx, c, who, signer, "embargo-notice", "")
	if err != nil {
		return err
	}
	d.expect(ctx, "a reply in "+short(who)+"'s name and thread holding the notice's code, signed by "+short(signer)+"'s key, does not count; "+
		"the team copy says it is not signed by "+short(who)+"'s key on file",
		func(ds []delivery) bool {
			acks, err := d.g.sched.Acks(ctx, c.ID)
			if err != nil {
				return false
			}
			for _, a := range acks {
				if a.AckMessageID == id || a.Recipient == who && !a.Acknowledged.IsZero() {
					return false
				}
			}
			for _, dl := range ds {
				if s := d.open(dl); dl.To == d.member(0) && s.kind == "team-copy" && s.encrypted &&
					strings.Contains(s.text, "NOT counted") && strings.Contains(s.text, "not signed by their key on file "+d.keys[who].Fingerprint()) {
					return true
				}
			}
			return false
		})
	d.clock.Advance(time.Minute)
	return nil
}

// ackReply sends the reply of acknowledge, in who's name, signed by
// signer's key; it returns the reply's Message-ID and what it answers.
func (d *demo) ackReply(ctx context.Context, c *cases.Case, who, signer, kind, tag string) (id, what string, err error) {
	var dl delivery
	var s seen
	for _, x := range d.deliveries() {
		if x.To != who || d.kindOf(x) != kind {
			continue
		}
		if sx := d.open(x); sx.caseID == c.ID && strings.HasPrefix(sx.subject, demoDistrosTag+" ") == (tag != "") {
			dl, s = x, sx
		}
	}
	m := demoAckLine.FindStringSubmatch(s.text)
	msg, err := mail.ReadMessage(bytes.NewReader(dl.Raw))
	if m == nil || err != nil {
		return "", "", fmt.Errorf("demo: no %s to %s asks to be acknowledged", kind, who)
	}
	h := msg.Header
	thread := fmt.Sprintf("In-Reply-To: %s\r\nReferences: %s\r\n", h.Get("Message-Id"), strings.TrimSpace(h.Get("References")+" "+h.Get("Message-Id")))
	entity := "Content-Type: text/plain; charset=utf-8\r\n\r\n> Please acknowledge this notice:\r\n>\r\n>     /ack " + m[1] +
		"\r\n\r\nReceived, thank you: we will be ready.\r\n"
	what = "its notice"
	if tag != "" {
		what = "its " + tag + " notice"
	}
	if kind == schedule.MailAckReminder {
		what = "the reminder"
	}
	signed := "a signed reply"
	if signer != who {
		signed = "a reply signed by " + short(signer) + "'s key"
	}
	d.flush()
	fmt.Fprintf(d.out, "   %s  <- %-31s /ack %s  (quoted in %s in the thread of %s)\n", stamp(d.clock.Now()), who, m[1], signed, what)
	id, err = d.submitIn(ctx, who, "Re: "+s.subject, thread, entity, d.keys[signer])
	return id, what, err
}

// ackTable prints the acknowledgements of case c as secgate case show does,
// and checks them: every embargo notice acknowledged, Distro Two reminded
// once and counted after, no one else reminded, the lead told of no one
// silent.
func (d *demo) ackTable(ctx context.Context, c *cases.Case) error {
	d.step("9. The acknowledgements of " + c.Ref + ", as secgate case show prints them")
	acks, err := d.g.sched.Acks(ctx, c.ID)
	if err != nil {
		return err
	}
	var b strings.Builder
	printAcks(&b, acks)
	for _, l := range strings.Split(strings.TrimSpace(b.String()), "\n") {
		fmt.Fprintf(d.out, "   %s\n", l)
	}
	var embargo, acked int
	for _, a := range acks {
		if a.Kind == "embargo-notice" {
			embargo++
			if !a.Acknowledged.IsZero() {
				acked++
			}
		}
	}
	d.expect(ctx, fmt.Sprintf("each distributor acknowledged each embargo notice of its lists (%d of %d, Distro One once per list)", acked, embargo), func([]delivery) bool {
		return embargo == 5 && acked == embargo
	})
	d.expect(ctx, short(demoTwo)+" reminded once, then counted; no one else reminded", func(ds []delivery) bool {
		ok := false
		for _, a := range acks {
			switch {
			case a.Recipient == demoTwo && a.Kind == "embargo-notice":
				ok = !a.Reminded.IsZero() && a.Acknowledged.After(a.Reminded)
			case !a.Reminded.IsZero():
				return false
			}
		}
		n := 0
		for _, dl := range ds {
			if d.kindOf(dl) == schedule.MailAckReminder {
				n++
			}
		}
		return ok && n == 1
	})
	d.expect(ctx, "the lead is told of no one silent: each acknowledged before ack_escalate", func(ds []delivery) bool {
		for _, dl := range ds {
			if strings.Contains(d.open(dl).subject, "Not acknowledged") {
				return false
			}
		}
		return true
	})
	return nil
}
