package main

import (
	"bytes"
	"context"
	"fmt"
	"net/mail"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/secgate/secgate/cases"
	"github.com/secgate/secgate/crypto"
	"github.com/secgate/secgate/schedule"
)

// seen is what the demo learned by opening one delivered message as its
// recipient would.
type seen struct {
	kind      string   // outbox kind: ack, team-copy, answer, embargo-notice, ...
	caseID    int64    // the case it is about (0: none)
	form      string   // "encrypted+signed", "signed", or a problem
	subject   string   // the protected subject when encrypted
	calendar  bool     // carries a text/calendar part
	files     []string // names of the attached files
	soleTo    bool     // the recipient alone in To, no Cc/Bcc
	signedOK  bool     // signed by the team key, verified
	encrypted bool
	text      string // the decrypted text
}

// open opens a delivery with its recipient's key and the team's public key.
func (d *demo) open(dl delivery) seen {
	var s seen
	msg, err := mail.ReadMessage(bytes.NewReader(dl.Raw))
	if err != nil {
		s.form = "UNREADABLE: " + err.Error()
		return s
	}
	h := msg.Header
	to, _ := h.AddressList("To")
	s.soleTo = len(to) == 1 && strings.EqualFold(to[0].Address, dl.To) && h.Get("Cc") == "" && h.Get("Bcc") == ""
	s.subject = h.Get("Subject")
	// The project that sent it (or that it went to) opens it: its
	// database knows the message, its key must have signed it.
	p := d.owner(dl)
	if p == nil {
		p = d
	}
	if id := strings.Trim(h.Get("Message-Id"), "<> "); id != "" {
		p.g.db.Reader().QueryRow("SELECT kind, case_id FROM outbox WHERE message_id = ?", id).Scan(&s.kind, &s.caseID)
	}
	opts := crypto.OpenOptions{Verifiers: []*crypto.Key{p.team.Public()}, Now: dl.At}
	if k := p.keys[dl.To]; k != nil {
		opts.Decrypt = k
	}
	o, err := crypto.Open(dl.Raw, opts)
	switch {
	case err != nil:
		s.form = "NOT OPENED: " + err.Error()
		return s
	case o.Signature == nil:
		s.form = "UNSIGNED"
	case o.Signature.Err != nil || o.Signature.Fingerprint != p.team.Fingerprint() || !o.Signature.Whole:
		s.form = "BAD SIGNATURE"
	default:
		s.signedOK = true
	}
	s.encrypted = o.Encrypted
	if s.signedOK {
		s.form = "signed"
		if o.Encrypted {
			s.form = "encrypted+signed"
		}
	}
	if subj, _, ok := crypto.ProtectedHeaders(o.Entity); ok {
		s.subject = subj
	}
	text, atts, _ := crypto.TextBody(o.Entity)
	s.text = text
	for _, a := range atts {
		s.files = append(s.files, a.Filename)
		if strings.HasPrefix(a.ContentType, "text/calendar") || strings.HasSuffix(a.Filename, ".ics") {
			s.calendar = true
		}
	}
	return s
}

// describe is one line of the timeline for a delivery.
func (d *demo) describe(dl delivery) string {
	s := d.open(dl)
	extra := ""
	if s.calendar {
		extra = " +.ics"
	}
	subj := s.subject
	if len(subj) > 60 {
		subj = subj[:57] + "..."
	}
	line := fmt.Sprintf("%-17s %-16s %q%s", s.kind, s.form, subj, extra)
	if dl.To == d.teamAddr() {
		line = fmt.Sprintf("%-17s %-16s %q", "inbound", "to the team key", subj)
	}
	if strings.Contains(strings.ToLower(subj), "refused") {
		for _, l := range strings.Split(s.text, "\n") {
			if l = strings.TrimSpace(l); l != "" {
				line += "\n" + strings.Repeat(" ", 24) + "| " + l
			}
		}
	}
	return line
}

// summary checks the whole run and prints the verdict.
func (d *demo) summary(ctx context.Context, ref, lead string, tl schedule.Timeline) error {
	ds := d.deliveries()
	check := func(what string, ok bool, detail string) {
		var err error
		if !ok {
			err = fmt.Errorf("%s", detail)
		}
		d.checks = append(d.checks, demoCheck{what, err})
	}
	main, err := d.g.workflow.Get(ctx, ref)
	if err != nil {
		return fmt.Errorf("demo: %s: %w", ref, err)
	}
	byKind := map[string][]delivery{}
	ofMain := map[string][]delivery{} // by kind, the deliveries about the case of ref
	allSigned, allSole, encOK := true, true, true
	for _, dl := range ds {
		if dl.To == d.teamAddr() {
			continue // mail to the gateway, signed by its senders
		}
		s := d.open(dl)
		byKind[s.kind] = append(byKind[s.kind], dl)
		if s.caseID == main.ID {
			ofMain[s.kind] = append(ofMain[s.kind], dl)
		}
		allSigned = allSigned && s.signedOK
		allSole = allSole && s.soleTo
		if dl.To != d.announce() && !s.encrypted {
			encOK = false
		}
		if s.kind == "embargo-notice" && !s.calendar {
			check("embargo notice to "+dl.To+" carries the .ics of T0", false, "no text/calendar part")
		}
	}
	check("every message is signed by the team key and verifies", allSigned, "a message is unsigned or badly signed")
	check("every message has its recipient alone in To (no Cc, no Bcc)", allSole, "a message names other recipients")
	check("everything but the public announcement is encrypted to its recipient", encOK, "a non-public message left in clear")
	check("the distributor with the expired key got nothing", d.count(ds, "security@distro-three.example") == 0, "it received mail")
	var alerts int
	d.g.db.Reader().QueryRowContext(ctx, "SELECT count(*) FROM outbox WHERE kind = 'alert' AND recipient = ?", lead).Scan(&alerts)
	check("the fix lead was told about the skipped distributor", alerts > 0, "no alert to the lead")
	for _, dl := range ofMain["embargo-notice"] {
		check("embargo notice to "+dl.To+" left before the pre-release time", tl.PreRelease.IsZero() || dl.At.Before(tl.PreRelease), "late")
	}
	pol, polErr := schedule.Preset(d.preset)
	if notices := ofMain["embargo-notice"]; len(notices) > 0 && polErr == nil {
		first := notices[0].At
		for _, dl := range notices {
			if dl.At.Before(first) {
				first = dl.At
			}
		}
		v := pol.Violations(first, tl.T0)
		check(fmt.Sprintf("the embargo notice left %s before T0, as the %s policy asks (%s)",
			schedule.FormatDuration(tl.T0.Sub(first)), d.preset, noticeWindow(pol)), len(v) == 0, strings.Join(v, "; "))
	}
	for _, dl := range ofMain["prerelease-notice"] {
		check("pre-release notice to "+dl.To+" at T-24h", !dl.At.Before(tl.PreRelease) && dl.At.Before(tl.T0), "sent at "+stamp(dl.At))
	}
	var anns, annsEmbargo []delivery
	for _, dl := range ofMain["announcement"] {
		if dl.To == d.announce() {
			anns = append(anns, dl)
		} else if !dl.At.Before(tl.T0) {
			annsEmbargo = append(annsEmbargo, dl)
		}
	}
	check("the announcement went to the public list at T0, signed", len(anns) == 1 && !anns[0].At.Before(tl.T0), fmt.Sprintf("%d announcements", len(anns)))
	if polErr == nil && pol.AnnounceToEmbargo {
		// Each valid distributor hears the release too, encrypted (the
		// check above that all but the public list is encrypted covers it).
		check("the embargo list hears the release at T0, each valid distributor encrypted",
			len(annsEmbargo) == len(ofMain["prerelease-notice"]) && len(annsEmbargo) > 0, fmt.Sprintf("%d announcements to distributors", len(annsEmbargo)))
	} else {
		check("the embargo list gets no announcement under this preset", len(ofMain["announcement"]) == len(anns), fmt.Sprintf("%d announcements to distributors", len(ofMain["announcement"])-len(anns)))
	}
	if _, fixBy := d.g.sched.Deadlines(main.Policy, main.Received); !fixBy.IsZero() && polErr == nil {
		// The policy's deadline for the fix (Knative: released within 28
		// days; Kata: within 2 weeks, or better in the open; KubeEdge:
		// developed within 7 days) is met, and no reminder says otherwise.
		done := d.reached(ctx, main.ID, pol.FixDoneState)
		overdue := false
		for _, dl := range ofMain["reminder"] {
			overdue = overdue || strings.Contains(d.open(dl).subject, "OVERDUE")
		}
		check(fmt.Sprintf("the %s policy's deadline is met: %s by %s; %s on %s", d.preset, pol.FixDeadlineWhat, stamp(fixBy), pol.FixDoneState, stamp(done)),
			!done.IsZero() && !done.After(fixBy) && !overdue, fmt.Sprintf("%s at %v, overdue reminder %v", pol.FixDoneState, done, overdue))
	}

	leak := false
	for _, dl := range ds {
		if bytes.Contains(dl.Raw, []byte(d.canary)) {
			leak = true
		}
	}
	check("the report's text appears in clear in no message", !leak, "canary found in a delivered message")
	dbBytes, _ := os.ReadFile(d.g.cfg.Gateway.Database)
	wal, _ := os.ReadFile(d.g.cfg.Gateway.Database + "-wal")
	check("the database holds no report text in clear", !bytes.Contains(dbBytes, []byte(d.canary)) && !bytes.Contains(wal, []byte(d.canary)), "canary found in SQLite")

	c, err := d.g.workflow.Get(ctx, ref)
	if polErr == nil && pol.LeadReleases {
		check("the announcement leaves the case fix-committed: the lead says fix-released once every patch is merged",
			err == nil && c.State == cases.StateFixCommitted, fmt.Sprintf("state %v (%v)", stateOf(c), err))
	} else {
		check("the case ends fix-released", err == nil && c.State == cases.StateFixReleased, fmt.Sprintf("state %v (%v)", stateOf(c), err))
	}
	err = d.g.workflow.VerifyAudit(ctx, c.ID)
	check("the case's audit chain verifies", err == nil, fmt.Sprint(err))
	ac, err := d.g.workflow.VerifyAuditLog(ctx, d.team.Public())
	if err == nil {
		err = ac.Err()
	}
	check("the whole audit log verifies against the head the team key signed last", err == nil && ac.Head != nil, fmt.Sprint(err))
	var missing []string
	for _, name := range []string{"DEMO-2026-0001.md", "DEMO-2026-0001.chat.txt", "DEMO-2026-0001.issue.md", "DEMO-2026-0001.osv.json", "CVE-2026-41234.json"} {
		if _, err := os.Stat(filepath.Join(d.g.cfg.Schedule.ArtifactsDir, name)); err != nil {
			missing = append(missing, name)
		}
	}
	check("advisory, texts for the chat channel and the tracking issue, CVE JSON 5 and OSV records were written at T0", len(missing) == 0, "missing "+strings.Join(missing, ", "))

	fmt.Fprintf(d.out, "\nSummary: %d messages delivered (", len(ds))
	first := true
	for _, k := range []string{"ack", "team-copy", "answer", "handoff", "embargo-notice", "prerelease-notice", "announcement", "alert", "reminder", "reporter",
		cases.MailApplication, cases.MailApplicant, schedule.MailAckReminder} {
		if n := len(byKind[k]); n > 0 {
			if !first {
				fmt.Fprint(d.out, ", ")
			}
			fmt.Fprintf(d.out, "%d %s", n, k)
			first = false
		}
	}
	fmt.Fprintln(d.out, ")")
	failed := 0
	for _, ch := range d.checks {
		mark := "ok  "
		if ch.err != nil {
			mark = "FAIL"
			failed++
		}
		fmt.Fprintf(d.out, "  %s %s", mark, ch.what)
		if ch.err != nil {
			fmt.Fprintf(d.out, ": %v", ch.err)
		}
		fmt.Fprintln(d.out)
	}
	if failed > 0 {
		return fmt.Errorf("demo: %d of %d checks failed", failed, len(d.checks))
	}
	fmt.Fprintf(d.out, "All %d checks passed.\n", len(d.checks))
	return nil
}

// noticeWindow describes the policy's rules for the time between the
// embargo notice and public disclosure.
func noticeWindow(p schedule.Policy) string {
	var w []string
	if p.MinNotice > 0 {
		w = append(w, "at least "+schedule.FormatDuration(p.MinNotice))
	}
	if p.MaxNotice > 0 {
		w = append(w, "at most "+schedule.FormatDuration(p.MaxNotice))
	}
	if p.MinNoticeBusinessDays > 0 || p.MaxNoticeBusinessDays > 0 {
		w = append(w, fmt.Sprintf("%d to %d business days", p.MinNoticeBusinessDays, p.MaxNoticeBusinessDays))
	}
	if p.DisclosureTime != "" {
		w = append(w, "at "+p.DisclosureTime+" UTC")
	}
	if len(p.Weekdays) > 0 {
		w = append(w, "on "+strings.Join(p.Weekdays, ", "))
	}
	return strings.Join(w, ", ")
}

// reached returns when case id first reached state (zero if it did not),
// from its audit log.
func (d *demo) reached(ctx context.Context, id int64, state string) time.Time {
	evs, err := d.g.workflow.AuditLog(ctx, id)
	if err != nil {
		return time.Time{}
	}
	for _, ev := range evs {
		if ev.Action == "status" && strings.Contains(ev.Detail, "-> "+state) {
			return ev.At
		}
	}
	return time.Time{}
}

func stateOf(c *cases.Case) any {
	if c == nil {
		return "none"
	}
	return c.State
}

// keepMail writes every delivered message to DIR/mail/<recipient>/NNN.eml.
func (d *demo) keepMail() error {
	for i, dl := range d.mail.Deliveries() {
		dir := filepath.Join(d.dir, "mail", dl.To)
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("%03d.eml", i+1)), dl.Raw, 0o600); err != nil {
			return err
		}
	}
	return nil
}

// demoKeyPassphrase locks the secret keys -keep writes: demo keys, made
// for one run, never for real use.
const demoKeyPassphrase = "demo only"

// keepSecretKeys writes every participant's secret key, and the team's
// public key, so that a kept message can be opened as its recipient would.
func (d *demo) keepSecretKeys() error {
	dir := filepath.Join(d.dir, "demo-secret-keys")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	for addr, k := range d.keys {
		armored, err := k.ArmorPrivate([]byte(demoKeyPassphrase))
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, strings.ReplaceAll(addr, "@", "_at_")+".asc"), []byte(armored), 0o600); err != nil {
			return err
		}
	}
	pub, err := d.team.ArmorPublic()
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(d.dir, "keys", "team.pub.asc"), []byte(pub), 0o644)
}

// count returns how many of ds went to to, of one of kinds (outbox kinds;
// any kind when none is given).
func (d *demo) count(ds []delivery, to string, kinds ...string) int {
	n := 0
	for _, dl := range ds {
		if dl.To == to && (len(kinds) == 0 || slices.Contains(kinds, d.kindOf(dl))) {
			n++
		}
	}
	return n
}

// kindOf returns the outbox kind of a delivered message ("" if unknown).
func (d *demo) kindOf(dl delivery) string {
	msg, err := mail.ReadMessage(bytes.NewReader(dl.Raw))
	if err != nil {
		return ""
	}
	var kind string
	if p := d.owner(dl); p != nil && p != d {
		d = p
	}
	if id := strings.Trim(msg.Header.Get("Message-Id"), "<> "); id != "" {
		d.g.db.Reader().QueryRow("SELECT kind FROM outbox WHERE message_id = ?", id).Scan(&kind)
	}
	return kind
}
