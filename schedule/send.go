package schedule

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/mail"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/secgate/secgate/cases"
	"github.com/secgate/secgate/crypto"
	"github.com/secgate/secgate/distlist"
	"github.com/secgate/secgate/store"
	"github.com/secgate/secgate/templates"
)

// Mail kinds the scheduler enqueues. Notices to distributors are always
// encrypted (the outbox refuses them otherwise).
const (
	MailEmbargoNotice    = "embargo-notice"
	MailPreReleaseNotice = "prerelease-notice"
	MailAnnouncement     = "announcement"
	MailPreAnnouncement  = "pre-announcement" // the date of a planned release, to the public lists
	MailReminder         = "reminder"
)

func memberByFpr(team []distlist.Member, fpr string) (distlist.Member, bool) {
	if fpr == "" {
		return distlist.Member{}, false
	}
	for _, m := range team {
		if strings.EqualFold(m.Fingerprint, fpr) {
			return m, true
		}
	}
	return distlist.Member{}, false
}

// CaseData returns the data the texts of case c are rendered with: the
// case, its lead, the policy's deadlines and, when one is planned, the
// current plan, read through q (a transaction that may have changed them,
// or the read pool). /draft and secgate template render show texts with it.
func (s *Scheduler) CaseData(ctx context.Context, q querier, c *cases.Case) (templates.Data, error) {
	team, err := s.dir.Team(ctx)
	if err != nil {
		return templates.Data{}, err
	}
	p, err := loadPlan(ctx, q, c.ID)
	if err != nil {
		return templates.Data{}, err
	}
	return s.data(c, team, p, s.now()), nil
}

// Draft renders text name (a template) for case c inside tx, as the
// gateway would send it now, for /draft by actor (the requester of a CVE
// request, say).
func (s *Scheduler) Draft(ctx context.Context, tx *sql.Tx, c *cases.Case, name string, o cases.DraftOptions) (subject, body string, err error) {
	d, err := s.CaseData(ctx, tx, c)
	if err != nil {
		return "", "", err
	}
	d.Actor = o.Actor
	d.Retrospective = o.Retrospective
	t, err := s.tmpl.Render(name, d)
	if err != nil {
		return "", "", fmt.Errorf("schedule: draft %s: %w", name, err)
	}
	return t.Subject, t.Body, nil
}

// data fills the template data of a case's timeline texts.
func (s *Scheduler) data(c *cases.Case, team []distlist.Member, p *plan, now time.Time) templates.Data {
	d := templates.Data{Project: s.project, Now: now}
	d.Case = c.TemplateData()
	d.Case.Reporter = templates.Person{} // notices and announcements never name the reporter's address
	d.Case.EvaluateBy, d.Case.FixBy = s.Deadlines(c.Policy, c.Received)
	if m, ok := memberByFpr(team, c.Lead); ok {
		d.Case.Lead = templates.Person{Name: m.Name, Address: m.Address, Fingerprint: m.Fingerprint, TZ: m.TZ}
	}
	if p != nil {
		d.Case.DiscloseAt = p.T0
		d.Case.Embargoed = p.Published.IsZero()
		d.Plan = templates.PlanData{
			T0: p.T0, Previous: p.PreviousT0, EmbargoNotice: p.NoticeAt, PreRelease: p.PreRelease,
			RetroFrom: p.RetroFrom, RetroTo: p.RetroTo, LeadTZ: d.Case.Lead.TZ, Forced: p.Forced,
		}
		if !p.Published.IsZero() && p.Broken == "" {
			d.Plan.PreRelease = time.Time{}
		}
	}
	return d
}

// send renders a template and enqueues it in tx, to the recipients of the
// directory list named list ("" for people who are on no list: the lead).
// Recipients the outbox skips are reported to the lead (cases Alert).
func (s *Scheduler) send(ctx context.Context, tx *sql.Tx, cs Cases, c *cases.Case, kind, notice, tmpl string, d templates.Data,
	list string, to []distlist.Recipient, encrypt bool, validThrough time.Time, atts ...attachment) (sent int, skipped []distlist.Skipped, err error) {
	return s.sendTagged(ctx, tx, cs, c, kind, notice, tmpl, d, list, "", to, encrypt, validThrough, atts...)
}

// sendTagged is send with tag (a list's subject_tag) before the Subject.
func (s *Scheduler) sendTagged(ctx context.Context, tx *sql.Tx, cs Cases, c *cases.Case, kind, notice, tmpl string, d templates.Data,
	list, tag string, to []distlist.Recipient, encrypt bool, validThrough time.Time, atts ...attachment) (sent int, skipped []distlist.Skipped, err error) {
	if len(to) == 0 {
		return 0, nil, nil
	}
	txt, err := s.tmpl.Render(tmpl, d)
	if err != nil {
		return 0, nil, err
	}
	if tag != "" {
		txt.Subject = tag + " " + txt.Subject
	}
	sk, err := s.out.Enqueue(ctx, tx, distlist.Mail{
		Kind:     kind,
		CaseID:   c.ID,
		NoticeID: notice,
		Content: crypto.Content{
			Subject: templates.HeaderSafe(txt.Subject),
			From:    s.from,
			Entity:  entity(txt.Body, notice, atts...),
		},
		Encrypt:      encrypt,
		ValidThrough: validThrough,
		List:         list,
		Recipients:   to,
		Auto:         true,
	})
	if err != nil {
		return 0, nil, err
	}
	if len(sk) > 0 {
		if err := s.alertSkipped(ctx, tx, cs, c, d, txt.Subject, sk); err != nil {
			return 0, nil, err
		}
	}
	return len(to) - len(sk), sk, nil
}

func (s *Scheduler) alertSkipped(ctx context.Context, tx *sql.Tx, cs Cases, c *cases.Case, d templates.Data, subject string, sk []distlist.Skipped) error {
	d.Message.Subject = subject
	d.Skipped = nil
	for _, x := range sk {
		d.Skipped = append(d.Skipped, templates.SkippedData{Name: x.Recipient.Name, Address: x.Recipient.Address, Reason: x.Reason})
	}
	txt, err := s.tmpl.Render(templates.SkippedRecipients, d)
	if err != nil {
		return err
	}
	return cs.Alert(ctx, tx, c.ID, txt.Subject, txt.Body)
}

func noticeID(c *cases.Case, j Job) string {
	return fmt.Sprintf("%s-%s-%d", c.Ref, j.Kind, j.ID)
}

// notifyDistributors sends an embargo, pre-release, change, withdrawn or
// broken notice to the list of job j, encrypted to each distributor, with
// its subject tag and the disclosure time as an iCalendar attachment (its
// cancellation when the embargo is withdrawn or broken).
func (s *Scheduler) notifyDistributors(ctx context.Context, tx *sql.Tx, cs Cases, j Job, c *cases.Case, p *plan, tmpl string, now time.Time) (int, int, error) {
	name := s.jobList(j)
	l, err := s.dir.List(ctx, name)
	if errors.Is(err, distlist.ErrNotFound) {
		s.log.Warn("schedule: no embargo list", "list", name, "case", c.Ref)
		return 0, 0, nil
	}
	if err != nil {
		return 0, 0, err
	}
	team, err := s.dir.Team(ctx)
	if err != nil {
		return 0, 0, err
	}
	d := s.data(c, team, p, now)
	if j.Detail.Previous != 0 {
		d.Plan.Previous = store.Time(j.Detail.Previous)
	}
	if l.Rules.NoPreRelease {
		d.Plan.PreRelease = time.Time{}
	}
	d.Reason = j.Detail.Reason
	ended := tmpl == templates.EmbargoBroken || tmpl == templates.EmbargoWithdrawn
	if tmpl == templates.EmbargoBroken {
		d.Reason = p.Broken
		d.Case.DiscloseAt = d.Plan.Previous
	}
	var atts []attachment
	validThrough := p.T0
	if ended {
		validThrough = time.Time{} // no embargo left to keep a key valid through
	} else if pr, ok := cs.(PatchReader); ok && (tmpl == templates.EmbargoNotice || tmpl == templates.PreReleaseNotice) {
		files, err := pr.PatchFiles(ctx, tx, c)
		if err != nil {
			return 0, 0, err
		}
		for _, f := range files {
			atts = append(atts, attachment{Filename: f.Filename, ContentType: f.ContentType, Data: f.Data})
		}
	}
	if ev, ok := s.event(c, p, tmpl, now); ok {
		atts = append(atts, attachment{Filename: "disclosure-" + c.Ref + ".ics", ContentType: ev.ContentType(), Data: ev.ICS()})
	}
	kind := MailEmbargoNotice
	if j.Kind == JobPreReleaseNotice {
		kind = MailPreReleaseNotice
	}
	if tmpl == templates.EmbargoNotice || tmpl == templates.PreReleaseNotice {
		if d.Ack.Code, err = s.askAck(ctx, tx, c, j, noticeID(c, j), kind, now); err != nil {
			return 0, 0, err
		}
	}
	n, sk, err := s.sendTagged(ctx, tx, cs, c, kind, noticeID(c, j), tmpl, d, l.Name, l.Rules.SubjectTag, l.Recipients, true, validThrough, atts...)
	return n, len(sk), err
}

// event is the calendar event a notice of c (text tmpl) carries: the
// disclosure time, or its cancellation when the embargo is withdrawn or
// broken; ok is false when there is no time to cancel.
func (s *Scheduler) event(c *cases.Case, p *plan, tmpl string, now time.Time) (Event, bool) {
	organizer := s.project.TeamAddress
	if a, err := mail.ParseAddress(organizer); err == nil {
		organizer = a.Address
	}
	ev := Event{UID: c.Ref + "-disclosure@secgate", Sequence: p.Generation, Start: p.T0, Stamp: now,
		Organizer: organizer, Description: "Embargoed until this time. Do not publish before."}
	what := "public disclosure (embargo ends)"
	switch tmpl {
	case templates.EmbargoWithdrawn:
		ev.Cancel, what, ev.Description = true, "disclosure withdrawn", "The embargo is withdrawn: there is no planned disclosure."
	case templates.EmbargoBroken:
		ev.Cancel, ev.Start, what, ev.Description = true, p.PreviousT0, "embargo broken: published early", "The embargo was broken: the issue is public now."
	}
	if ev.Start.IsZero() {
		return Event{}, false
	}
	ev.Summary = strings.TrimSpace(fmt.Sprintf("%s %s %s %s", s.project.Name, c.Ref, what, c.CVE))
	return ev, true
}

// preAnnounce tells the public lists the date and time of c's planned
// release (previous: the date it replaces, zero if none), or that it is
// cancelled, when the policy says so: signed, not encrypted, with its
// severity and nothing of what it is.
func (s *Scheduler) preAnnounce(ctx context.Context, tx *sql.Tx, cs Cases, c *cases.Case, p *plan, previous, now time.Time, cancelled bool) error {
	pol, err := s.Policy(p.Policy)
	if err != nil || !pol.PreAnnounce {
		return err
	}
	d := templates.Data{Project: s.project, Now: now}
	d.Case = templates.CaseData{Ref: c.Ref, Severity: c.Severity}
	d.Plan = templates.PlanData{T0: p.T0, Previous: previous}
	what := "the release date " + p.T0.Format(layoutUTC) + " told to the public lists"
	if cancelled {
		d.Plan.Cancelled, d.Case.Severity = true, ""
		what = "the public lists told the release of " + p.T0.Format(layoutUTC) + " is cancelled"
	}
	notice := fmt.Sprintf("%s-preannounce-%d-%v", c.Ref, p.Generation, cancelled)
	if _, err := s.toPublicLists(ctx, tx, cs, c, MailPreAnnouncement, notice, templates.PreAnnouncement, d); err != nil {
		return err
	}
	return cs.Audit(ctx, tx, c.ID, cases.ActorGateway, "pre-announce", what, "")
}

// toPublicLists sends text tmpl to every public list (signed; encrypted
// only for a list that says so), one notice per list, and returns the
// lists it went to.
func (s *Scheduler) toPublicLists(ctx context.Context, tx *sql.Tx, cs Cases, c *cases.Case, kind, notice, tmpl string, d templates.Data) ([]string, error) {
	var lists []string
	for _, name := range s.cfg.PublicLists {
		l, err := s.dir.List(ctx, name)
		if errors.Is(err, distlist.ErrNotFound) {
			s.log.Warn("schedule: public list missing", "list", name, "case", c.Ref)
			continue
		}
		if err != nil {
			return nil, err
		}
		if _, _, err := s.send(ctx, tx, cs, c, kind, notice+"-"+name, tmpl, d, l.Name, l.Recipients, l.Encrypt, time.Time{}); err != nil {
			return nil, err
		}
		lists = append(lists, name)
	}
	return lists, nil
}

// announce sends the public announcement to every public list (signed, not
// encrypted unless the list is) and writes the artifacts.
func (s *Scheduler) announce(ctx context.Context, tx *sql.Tx, cs Cases, j Job, c *cases.Case, p *plan, now time.Time) (lists, files []string, err error) {
	team, err := s.dir.Team(ctx)
	if err != nil {
		return nil, nil, err
	}
	d := s.data(c, team, p, now)
	d.Plan.T0 = now // the time it actually goes out
	d.Case.Embargoed = false
	if lists, err = s.toPublicLists(ctx, tx, cs, c, MailAnnouncement, noticeID(c, j), templates.Announcement, d); err != nil {
		return nil, nil, err
	}
	if pol, err := s.Policy(c.Policy); err == nil && pol.AnnounceToEmbargo {
		// Each embargo list hears the release as it happens, each
		// distributor in a mail encrypted to them alone (once: an
		// embargo list among the public lists has had it).
		auds, err := s.audiences(ctx, tx, c, pol)
		if err != nil {
			return nil, nil, err
		}
		for _, a := range auds {
			if slices.Contains(s.cfg.PublicLists, a.List) {
				continue
			}
			l, err := s.dir.List(ctx, a.List)
			switch {
			case errors.Is(err, distlist.ErrNotFound):
			case err != nil:
				return nil, nil, err
			default:
				if _, _, err := s.sendTagged(ctx, tx, cs, c, MailAnnouncement, noticeID(c, j)+"-"+l.Name, templates.Announcement, d, l.Name, l.Rules.SubjectTag, l.Recipients, true, time.Time{}); err != nil {
					return nil, nil, err
				}
				lists = append(lists, l.Name+" (encrypted)")
			}
		}
	}
	if s.cfg.ArtifactsDir != "" {
		// The artifacts never hold the announcement back: what cannot be
		// built or written is reported to the lead.
		fs, berr := BuildArtifacts(s.cfg.Artifacts, s.tmpl, d, now)
		paths, werr := WriteArtifacts(s.cfg.ArtifactsDir, fs)
		for _, p := range paths {
			files = append(files, filepath.Base(p))
		}
		if err := errors.Join(berr, werr); err != nil {
			s.log.Error("schedule: artifacts", "case", c.Ref, "err", err)
			if aerr := cs.Alert(ctx, tx, c.ID, "Artifacts incomplete",
				fmt.Sprintf("The announcement of %s went out, but not every publication file could be written to the artifacts directory:\n\n  %v\n\nWritten: %s\n",
					c.Ref, err, strings.Join(files, ", "))); aerr != nil {
				return nil, nil, aerr
			}
		}
	}
	if len(lists) == 0 {
		lists = []string{"(no public list)"}
	}
	return lists, files, nil
}

// leadRecipients are the case's lead, or the whole team when it has none.
func leadRecipients(team []distlist.Member, c *cases.Case) []distlist.Recipient {
	if m, ok := memberByFpr(team, c.Lead); ok && !m.Away {
		return []distlist.Recipient{{Name: m.Name, Address: m.Address, Key: m.Key}}
	}
	var to []distlist.Recipient
	for _, m := range team {
		to = append(to, distlist.Recipient{Name: m.Name, Address: m.Address, Key: m.Key})
	}
	return to
}

// retroClosing marks the retrospective job due when the window closes.
const retroClosing = "window closes"

func (s *Scheduler) remindLead(ctx context.Context, tx *sql.Tx, cs Cases, j Job, c *cases.Case, p *plan, now time.Time) error {
	team, err := s.dir.Team(ctx)
	if err != nil {
		return err
	}
	d := s.data(c, team, p, now)
	d.Reminder.Overdue = j.Detail.Reason == retroClosing // the second reminder, as the window closes
	_, _, err = s.send(ctx, tx, cs, c, MailReminder, noticeID(c, j), templates.Retrospective, d, "",
		leadRecipients(team, c), true, now)
	return err
}
