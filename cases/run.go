package cases

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/secgate/secgate/distlist"
	"github.com/secgate/secgate/templates"
)

// ErrForbidden is returned when the member's role does not allow a command.
var ErrForbidden = errors.New("not allowed")

func (s *session) isAdmin() bool { return s.member.Role == distlist.RoleLead }

func (s *session) isLead() bool {
	return s.c != nil && s.c.Lead != "" && strings.EqualFold(s.c.Lead, s.member.Fingerprint)
}

// authorize checks the member's role against the command.
func (s *session) authorize(c Command) error {
	sp := vocabulary[c.Name]
	acc := sp.access
	if c.Name == "status" && (terminal(c.State) || c.State == StateOpinion) && acc < leadOrAdmin {
		acc = leadOrAdmin // ending a case is /close's decision, whichever command says it
	}
	switch acc {
	case admin:
		if !s.isAdmin() {
			return fmt.Errorf("%w: /%s needs the lead role in the team directory", ErrForbidden, c.Name)
		}
	case leadOrAdmin:
		if !s.isAdmin() && !s.isLead() {
			return fmt.Errorf("%w: %s is for the case's fix lead (or a member with the lead role)", ErrForbidden, strings.Fields(c.Raw)[0]+forState(c))
		}
	}
	if c.Name == "lead" && (c.Args[0] == "offer" || c.Args[0] == "release") && !s.isLead() && !(c.Args[0] == "offer" && s.isAdmin()) {
		return fmt.Errorf("%w: only the fix lead can /lead %s", ErrForbidden, c.Args[0])
	}
	return nil
}

// run applies one command to s.c (in memory; saved at the end) and to tx.
func (s *session) run(ctx context.Context, cmd *Command) error {
	c := s.c
	did := func(format string, a ...any) { s.done = append(s.done, fmt.Sprintf(format, a...)) }
	// sealed is did for a change whose value is stored encrypted: the
	// answer (encrypted mail) says it, the audit log (in clear) says only
	// what changed.
	sealed := s.sealedDone
	if err := s.checkClass(cmd); err != nil {
		return err
	}
	switch cmd.Name {
	case "status":
		return s.setState(ctx, cmd.State, "")
	case "class":
		return s.setClass(cmd.Args[0])
	case "cvss":
		did("CVSS %s: score %.1f, severity %s", cmd.CVSS.Vector, cmd.CVSS.Score, cmd.CVSS.Severity)
		c.CVSSVector, c.CVSSScore, c.Severity = cmd.CVSS.Vector, cmd.CVSS.Score, cmd.CVSS.Severity
	case "cve":
		did("CVE %s -> %s", orNone(c.CVE), cmd.Args[0])
		c.CVE = cmd.Args[0]
	case "advisory":
		did("advisory %s -> %s", orNone(c.Advisory), cmd.Args[0])
		c.Advisory = cmd.Args[0]
	case "affected":
		did("affected versions: %s", short(cmd.Rest))
		c.Affected = cmd.Rest
	case "fixed":
		did("fixed versions: %s", short(cmd.Rest))
		c.Fixed = cmd.Rest
	case "credit":
		switch {
		case strings.EqualFold(cmd.Args[0], "consent"):
			c.CreditConsent = cmd.Args[1]
			did("reporter's consent to be credited recorded: %s", cmd.Args[1])
		case len(cmd.Args) == 1 && strings.EqualFold(cmd.Args[0], "none"):
			c.Credit = ""
			did("credit cleared")
		default:
			c.Credit = cmd.Rest
			did("credit: %s", short(cmd.Rest))
			if c.CreditConsent != ConsentYes {
				s.extra = append(s.extra, "note: the reporter's consent to be credited is not recorded yet (/credit consent yes|no)")
			}
		}
	case "impact":
		// Every draft is kept (encrypted) in the case's messages.
		if _, err := s.w.insertMessage(ctx, s.tx, c.ID, Message{Kind: KindImpact, Author: s.actor, MessageID: s.mail.MessageID, Text: cmd.Text, Encrypted: s.mail.Opened.Encrypted, Received: s.now}); err != nil {
			return internalErr(err)
		}
		c.Impact = cmd.Text
		did("impact description updated (%s)", lineCount(cmd.Text))
	case "title":
		sealed("title set", "title: %s", short(cmd.Rest))
		c.Title = cmd.Rest
	case "component":
		sealed("component set", "component: %s", short(cmd.Rest))
		c.Component = cmd.Rest
	case "mitigation":
		setBlock(&c.Mitigation, cmd.Text, "mitigation", did)
	case "terms":
		setBlock(&c.Terms, cmd.Text, "the reporter's disclosure terms", did)
	case "patch":
		attached, err := s.attachPatch(ctx, cmd.Rest)
		if err != nil {
			return err
		}
		var what string
		c.Patches, what = addOrClear(c.Patches, cmd.Rest)
		if attached {
			what += " (the file goes with the notices)"
		}
		if strings.EqualFold(cmd.Rest, "none") {
			c.PatchFiles = nil
		}
		sealed(fmt.Sprintf("patches: %d listed, %s attached", len(c.Patches), templates.Count(len(c.PatchFiles), "file")), "patches %s", what)
	case "reference":
		var what string
		c.References, what = addOrClear(c.References, cmd.Args[0])
		sealed(fmt.Sprintf("references: %d listed", len(c.References)), "references %s", what)
	case "release":
		c.Release = cmd.Args[0]
		what := "set: " + short(c.Release)
		if strings.EqualFold(c.Release, "none") {
			c.Release, what = "", "cleared"
		}
		sealed("release link updated", "release link %s", what)
	case "note":
		if _, err := s.w.insertMessage(ctx, s.tx, c.ID, Message{Kind: KindNote, Author: s.actor, MessageID: s.mail.MessageID, Text: cmd.Text, Encrypted: s.mail.Opened.Encrypted, Received: s.now}); err != nil {
			return internalErr(err)
		}
		did("note added (%s)", lineCount(cmd.Text))
	case "reply":
		return s.reply(ctx, cmd)
	case "close":
		reason := ""
		if cmd.State == StateClosed {
			reason = cmd.Rest
		} else if len(cmd.Args) > 1 {
			reason = strings.TrimSpace(strings.TrimPrefix(cmd.Rest, cmd.Args[0]))
		}
		return s.setState(ctx, cmd.State, reason)
	case "lead":
		return s.lead(ctx, cmd)
	case "team":
		m, err := s.resolve(cmd.Args[1])
		if err != nil {
			return err
		}
		if cmd.Args[0] == "add" {
			if slices.ContainsFunc(c.Team, func(f string) bool { return strings.EqualFold(f, m.Fingerprint) }) {
				s.extra = append(s.extra, m.Name+" was already on the fix team")
				return nil
			}
			c.Team = append(c.Team, m.Fingerprint)
			did("%s <%s> added to the fix team", m.Name, m.Address)
		} else {
			if strings.EqualFold(c.Lead, m.Fingerprint) {
				return errors.New("the fix lead stays on the fix team; hand the lead off first")
			}
			i := slices.IndexFunc(c.Team, func(f string) bool { return strings.EqualFold(f, m.Fingerprint) })
			if i < 0 {
				return fmt.Errorf("%s is not on the fix team", m.Name)
			}
			c.Team = slices.Delete(c.Team, i, i+1)
			did("%s <%s> removed from the fix team", m.Name, m.Address)
		}
	case "log":
		s.log = true
	case "draft":
		if s.w.scheduler() == nil {
			return errors.New("drafts are not available on this gateway")
		}
		s.drafts = append(s.drafts, cmd.Args[0])
	case "help":
		s.help = true
	case "disclose", "notify", "publish-now":
		return s.schedule(ctx, cmd)
	case "list":
		return s.list(ctx, cmd)
	case "leak":
		return s.leak(ctx, cmd)
	case "approve":
		return s.approve(ctx, cmd)
	case "break-glass":
		if s.w.cfg.Approvals < 2 {
			s.extra = append(s.extra, "/break-glass: the two-person rule is off; nothing waits for approval")
		}
	default:
		return fmt.Errorf("command /%s is not implemented", cmd.Name)
	}
	return nil
}

// setBlock sets a field a block command writes (/mitigation, /terms) to
// text, or clears it when the block is "none"; the line it reports names
// no value (the field is stored encrypted).
func setBlock(dst *string, text, what string, did func(string, ...any)) {
	if strings.EqualFold(strings.TrimSpace(text), "none") {
		*dst = ""
		did("%s cleared", what)
		return
	}
	*dst = text
	did("%s updated (%s)", what, lineCount(text))
}

// lineCount says how many lines text has: "1 line", "3 lines".
func lineCount(text string) string {
	return templates.Count(strings.Count(text, "\n")+1, "line")
}

func forState(c Command) string {
	if c.Name == "status" {
		return " " + string(c.State)
	}
	return ""
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

// setState moves the case and queues what the new state requires: the
// reporter hears about incomplete, invalid, wontfix and opinion.
func (s *session) setState(ctx context.Context, to State, reason string) error {
	c := s.c
	if err := checkTransition(c, to); err != nil {
		return err
	}
	from := c.State
	c.State = to
	if reason != "" {
		c.CloseReason = reason
	}
	s.done = append(s.done, fmt.Sprintf("state %s -> %s", from, to))
	s.tellReporterOf(ctx, to)
	switch to {
	case StateIncomplete, StateInvalid, StateWontfix, StateOpinion:
		tmpl := "incomplete"
		if to != StateIncomplete {
			tmpl = "decision"
		}
		s.after = append(s.after, func() error {
			return s.toReporter(ctx, tmpl, string(to), reason, "")
		})
		if sch := s.w.scheduler(); sch != nil && to != StateIncomplete {
			s.after = append(s.after, func() error {
				return sch.Withdraw(ctx, s.tx, s.c, reason, s.actor)
			})
			c.DiscloseAt = time.Time{} // no disclosure is planned any more
		}
	}
	return nil
}

// toReporter queues a text to the reporter: encrypted when their key is
// known, signed always.
func (s *session) toReporter(ctx context.Context, tmpl, tag, reason, text string) error {
	r, enc, err := reporterRecipient(s.c)
	if err != nil {
		return err
	}
	d := s.w.data(s.c, s.team)
	d.Case.AdvisoryLink = s.link
	if !enc {
		d.Case = clearCaseData(d.Case) // mail in clear carries only what names no detail of the case
	}
	d.Recipient = templates.Person{Address: s.c.ReporterAddr}
	d.Plan.NoEmbargo = s.noEmbargo
	d.Reason = reason
	d.Message.Text = text
	subj, body, err := s.w.render(tmpl, d)
	if err != nil {
		return internalErr(err)
	}
	sk, err := s.w.enqueue(ctx, s.tx, outMail{kind: MailReporter, caseID: s.c.ID,
		notice: s.notice("reporter", tag), subject: subj, body: body, encrypt: enc,
		to: []distlist.Recipient{r}, auto: false})
	if err != nil {
		return internalErr(err)
	}
	how := "in clear (no key known), signed"
	if enc {
		how = "encrypted to the reporter's key"
	}
	if len(sk) > 0 {
		msg := fmt.Sprintf("the reporter was NOT told (%s): %s", tmpl, skippedList(sk))
		s.extra = append(s.extra, msg)
		if err := s.w.Audit(ctx, s.tx, s.c.ID, ActorGateway, "reporter-skipped", msg, s.mail.MessageID); err != nil {
			return internalErr(err)
		}
		if !s.isLead() {
			// Fail closed, and the fix lead is told.
			if err := s.w.Alert(ctx, s.tx, s.c.ID, "Reporter not reachable", msg+"\n"); err != nil {
				return internalErr(err)
			}
		}
		return nil
	}
	s.extra = append(s.extra, fmt.Sprintf("reporter told (%s), %s", tmpl, how))
	return nil
}

func (s *session) reply(ctx context.Context, cmd *Command) error {
	if _, err := s.w.insertMessage(ctx, s.tx, s.c.ID, Message{Kind: KindReply, Author: s.actor, MessageID: s.mail.MessageID, Text: cmd.Text, Encrypted: s.mail.Opened.Encrypted, Received: s.now}); err != nil {
		return internalErr(err)
	}
	s.done = append(s.done, fmt.Sprintf("reply to the reporter queued (%s)", lineCount(cmd.Text)))
	s.replies = append(s.replies, cmd.Text)
	line := cmd.Line
	s.after = append(s.after, func() error {
		return s.toReporter(ctx, "reply", fmt.Sprintf("reply-%d", line), "", cmd.Text)
	})
	return nil
}

// resolve finds a team member by @name, @local-part, @address or
// @fingerprint.
func (s *session) resolve(ref string) (distlist.Member, error) {
	ref = strings.TrimPrefix(ref, "@")
	var found []distlist.Member
	for _, m := range s.team {
		local, _, _ := strings.Cut(m.Address, "@")
		if strings.EqualFold(m.Name, ref) || strings.EqualFold(m.Address, ref) || strings.EqualFold(local, ref) ||
			strings.EqualFold(m.Fingerprint, ref) {
			found = append(found, m)
		}
	}
	switch len(found) {
	case 0:
		return distlist.Member{}, fmt.Errorf("@%s is not a team member", short(ref))
	case 1:
		return found[0], nil
	}
	return distlist.Member{}, fmt.Errorf("@%s names more than one member; use the address", short(ref))
}

// lead implements the positive hand-off: offer, accept, confirmation.
func (s *session) lead(ctx context.Context, cmd *Command) error {
	c := s.c
	me := s.member
	switch cmd.Args[0] {
	case "offer":
		to, err := s.resolve(cmd.Args[1])
		if err != nil {
			return err
		}
		if strings.EqualFold(to.Fingerprint, c.Lead) {
			return fmt.Errorf("%s is already the fix lead", to.Name)
		}
		if !available(to, s.now) {
			return fmt.Errorf("%s is away or has no usable key", to.Name)
		}
		c.LeadOffer = to.Fingerprint
		s.done = append(s.done, fmt.Sprintf("fix lead offered to %s <%s>; it passes when they answer /lead accept", to.Name, to.Address))
		s.after = append(s.after, func() error {
			d := s.w.data(c, s.team)
			d.Actor, d.Recipient = person(me), person(to)
			return s.handoffMail(ctx, "handoff-offer", "offer", d, to)
		})
	case "accept":
		if !strings.EqualFold(c.LeadOffer, me.Fingerprint) {
			return errors.New("the fix lead has not been offered to you (/lead offer @you comes first)")
		}
		return s.becomeLead(ctx, "accepted the hand-off")
	case "take":
		switch {
		case c.Lead == "":
			return s.becomeLead(ctx, "the case had no fix lead")
		case strings.EqualFold(c.Lead, me.Fingerprint):
			return errors.New("you are already the fix lead")
		case strings.EqualFold(c.LeadOffer, me.Fingerprint):
			return s.becomeLead(ctx, "the lead had offered it")
		case c.LeadReleased:
			return s.becomeLead(ctx, "the lead had released the case")
		}
		cur, ok := memberByFpr(s.team, c.Lead)
		if !ok || !available(cur, s.now) {
			return s.becomeLead(ctx, "the rota skips the previous lead (away, gone or without a usable key)")
		}
		return fmt.Errorf("%s is the fix lead; ask them to /lead offer @you or /lead release", cur.Name)
	case "release":
		c.LeadReleased = true
		s.done = append(s.done, "fix lead released: any member may now /lead take")
	}
	return nil
}

// becomeLead makes the sender the fix lead and confirms it to both sides.
func (s *session) becomeLead(ctx context.Context, why string) error {
	c := s.c
	me := s.member
	prev, hadPrev := memberByFpr(s.team, c.Lead)
	c.Lead, c.LeadOffer, c.LeadReleased = me.Fingerprint, "", false
	if !slices.ContainsFunc(c.Team, func(f string) bool { return strings.EqualFold(f, me.Fingerprint) }) {
		c.Team = append(c.Team, me.Fingerprint)
	}
	s.done = append(s.done, fmt.Sprintf("%s <%s> is now the fix lead (%s)", me.Name, me.Address, why))
	s.after = append(s.after, func() error {
		d := s.w.data(c, s.team)
		d.Actor = person(me)
		d.Reason = why
		to := []distlist.Member{me}
		if hadPrev && !strings.EqualFold(prev.Fingerprint, me.Fingerprint) {
			to = append(to, prev)
		}
		for _, m := range to {
			d.Recipient = person(m)
			if err := s.handoffMail(ctx, "handoff-confirm", "confirm", d, m); err != nil {
				return err
			}
		}
		return nil
	})
	return nil
}

func (s *session) handoffMail(ctx context.Context, tmpl, tag string, d templates.Data, to distlist.Member) error {
	subj, body, err := s.w.render(tmpl, d)
	if err != nil {
		return internalErr(err)
	}
	sk, err := s.w.enqueue(ctx, s.tx, outMail{kind: MailHandoff, caseID: s.c.ID, notice: s.notice("handoff", tag+"/"+to.Fingerprint),
		subject: subj, body: body, encrypt: true, to: []distlist.Recipient{recipient(to)}, auto: true})
	if err != nil {
		return internalErr(err)
	}
	if len(sk) > 0 {
		return fmt.Errorf("the hand-off mail cannot reach %s: %s", to.Name, skippedList(sk))
	}
	return nil
}

// schedule calls the injected Scheduler.
func (s *session) schedule(ctx context.Context, cmd *Command) error {
	sch := s.w.scheduler()
	if sch == nil {
		return errors.New("disclosure scheduling is not available on this gateway")
	}
	// The scheduler reads the case as this mail leaves it so far.
	s.c.Updated = s.now
	if err := s.w.saveCase(ctx, s.tx, s.c); err != nil {
		return internalErr(err)
	}
	// And whatever the scheduler changed in the case is kept.
	defer func() {
		if c, err := s.w.loadCase(ctx, s.tx, "id = ?", s.c.ID); err == nil {
			disclose := s.c.DiscloseAt
			*s.c = *c
			if cmd.Name == "disclose" || cmd.Name == "publish-now" {
				s.c.DiscloseAt = disclose // the planned, or the actual, time
			}
		}
	}()
	switch cmd.Name {
	case "disclose":
		plan, err := sch.Disclose(ctx, s.tx, s.c, cmd.T0, DiscloseOptions{Force: cmd.Force, NoEmbargo: cmd.NoEmbargo}, s.actor)
		if err != nil {
			return err
		}
		s.c.DiscloseAt = cmd.T0
		line := "public disclosure planned for " + cmd.T0.UTC().Format("2006-01-02 15:04 UTC")
		if cmd.Force != "" {
			line += " (forced: " + short(cmd.Force) + ")"
		}
		s.done = append(s.done, line)
		if plan != "" {
			s.extra = append(s.extra, plan)
		}
		if s.c.Terms != "" {
			s.extra = append(s.extra, "the reporter's disclosure terms, which this plan must respect: "+s.c.Terms)
		}
		t0 := cmd.T0
		s.noEmbargo = cmd.NoEmbargo
		s.after = append(s.after, func() error { return s.tellReporterOfPlan(ctx, t0) })
	case "notify":
		lines, err := notify(ctx, sch, s.tx, s.c, cmd, s.actor)
		if err != nil {
			return err
		}
		if lines != "" {
			s.extra = append(s.extra, lines)
		}
		line := "embargo notice queued to the distributors"
		if cmd.List != "" {
			line = "embargo list " + cmd.List + " added to the case"
		}
		if cmd.Force != "" {
			line += " (forced: " + short(cmd.Force) + ")"
		}
		s.done = append(s.done, line)
	case "publish-now":
		if err := sch.PublishNow(ctx, s.tx, s.c, cmd.Rest, s.actor); err != nil {
			return err
		}
		s.done = append(s.done, "publication now: "+short(cmd.Rest))
		reason := cmd.Rest
		s.after = append(s.after, func() error {
			return s.toReporter(ctx, templates.Disclosure, "publish-now", reason, "")
		})
	}
	return nil
}

// list manages the recipients of an embargo list, its applications and
// the suspensions of distributors.
func (s *session) list(ctx context.Context, cmd *Command) error {
	switch cmd.Args[0] {
	case "approve", "deny":
		return s.decide(ctx, cmd)
	case "suspend", "reinstate":
		return s.suspend(ctx, cmd)
	}
	name, addr := cmd.Args[1], cmd.Args[2]
	if cmd.Args[0] == "confirm" {
		return s.confirmKey(ctx, name, addr, cmd.Args[3])
	}
	l, err := s.w.dir.List(ctx, name)
	if errors.Is(err, distlist.ErrNotFound) {
		return fmt.Errorf("there is no list %q", short(name))
	}
	if err != nil {
		return internalErr(err)
	}
	if l.Kind != distlist.KindEmbargo {
		return fmt.Errorf("list %q is a %s list; only embargo lists are managed by mail", name, l.Kind)
	}
	if cmd.Args[0] == "remove" {
		if err := s.w.dir.RemoveRecipient(ctx, s.tx, name, addr); err != nil {
			if errors.Is(err, distlist.ErrNotFound) {
				return fmt.Errorf("%s is not on %s", addr, name)
			}
			return err
		}
		how, err := s.tellRemoved(ctx, l, addr)
		if err != nil {
			return err
		}
		s.done = append(s.done, fmt.Sprintf("%s removed from %s; told, %s", addr, name, how))
		return nil
	}
	key := []byte(cmd.Text)
	if len(key) == 0 {
		var found [][]byte
		for _, a := range s.atts {
			if a.ContentType == "application/pgp-keys" || strings.HasSuffix(strings.ToLower(a.Filename), ".asc") ||
				strings.Contains(string(a.Data), armorBegin) {
				found = append(found, a.Data)
			}
		}
		switch len(found) {
		case 0:
			return s.requestKey(ctx, name, addr)
		case 1:
			key = found[0]
		default:
			return errors.New("more than one key attached; add one recipient per mail or paste each key below its command")
		}
	}
	warns, err := s.w.dir.AddRecipient(ctx, s.tx, name, distlist.RecipientSpec{Address: addr, Key: key, Source: distlist.SourceCommand})
	if err != nil {
		return err
	}
	s.done = append(s.done, fmt.Sprintf("%s added to %s", addr, name))
	for _, w := range warns {
		s.extra = append(s.extra, "warning: "+w)
	}
	return nil
}

func helpLine(name string, refs Refs) templates.HelpLine {
	return templates.HelpLine{Usage: usageOf(name, refs), Text: vocabulary[name].help}
}

func logLine(e AuditEvent) templates.LogLine {
	return templates.LogLine{At: e.At, Actor: e.Actor, Action: e.Action, Detail: e.Detail}
}
