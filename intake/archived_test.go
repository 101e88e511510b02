package intake

import (
	"strings"
	"testing"
	"time"
)

// TestReportNamesArchivedCase: mail tagged with a case that was archived
// (it ended long ago) finds no case; it opens a new one, whose report
// says which archived case it names, and the team copy tells the team
// where the old case is. A tag naming a live case still reaches it.
func TestReportNamesArchivedCase(t *testing.T) {
	e := newProcEnv(t)
	at := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	e.cases.archived = map[string]time.Time{"SEC-2024-0007": at}
	raw := "From: Rita Reporter <rita@example.org>\r\nTo: security@example.test\r\n" +
		"Subject: Re: [SEC-2024-0007] the fix is incomplete\r\nDate: Sun, 22 Nov 2026 03:00:00 +0000\r\n" +
		"Message-ID: <again@example.org>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain\r\n\r\nThe old bug is back.\r\n"
	in := e.ingest([]byte(raw))
	if in.Class != ClassReport || in.State != StateProcessed || !strings.Contains(in.Reason, "names archived case SEC-2024-0007") {
		t.Fatalf("inbound %s/%s %q, want a new report naming the archived case", in.State, in.Class, in.Reason)
	}
	r := e.cases.reports[len(e.cases.reports)-1]
	if r.Archived != "SEC-2024-0007" {
		t.Errorf("the new case's report names archived case %q, want SEC-2024-0007", r.Archived)
	}
	var copy *OutMail
	mails := e.mailer.take()
	for i := range mails {
		if mails[i].Kind == "team-copy" {
			copy = &mails[i]
		}
	}
	if copy == nil {
		t.Fatalf("no team copy among %v", kinds(mails))
	}
	for _, want := range []string{"it names case SEC-2024-0007", "archive on 2026-03-04", "secgate case show -archive SEC-2024-0007"} {
		if !strings.Contains(copy.Body, want) {
			t.Errorf("team copy lacks %q:\n%s", want, copy.Body)
		}
	}

	// A report naming no archived case says nothing of the kind.
	raw = strings.NewReplacer("SEC-2024-0007", "SEC-2024-0008", "<again@", "<other@").Replace(raw)
	in = e.ingest([]byte(raw))
	if in.Class != ClassReport || strings.Contains(in.Reason, "archived") {
		t.Errorf("report naming no archived case: %s %q", in.Class, in.Reason)
	}
	for _, m := range e.mailer.take() {
		if strings.Contains(m.Body, "Archived:") {
			t.Errorf("%s says a case was archived:\n%s", m.Kind, m.Body)
		}
	}
}
