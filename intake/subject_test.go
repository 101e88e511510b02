package intake

import (
	"bytes"
	"context"
	"fmt"
	"net/mail"
	"testing"
	"time"
)

// TestRealStackObscuredSubjects: what the gateway sends encrypted shows
// the outer Subject "[...]" (RFC 9788), the acknowledgement and the team
// copy alike. Replies thread into their case whichever obscured Subject
// their client shows outside, "[...]" or the older "...": the reporter's
// encrypted follow-ups by In-Reply-To or by the protected Subject's tag
// alone, a member's signed commands by In-Reply-To to their team copy.
func TestRealStackObscuredSubjects(t *testing.T) {
	if testing.Short() {
		t.Skip("real mail stack")
	}
	g := startGateway(t)
	ctx, cancel := context.WithCancel(g.ctx)
	done := g.runPoller(ctx, nil)
	defer func() { cancel(); <-done }()
	team := g.stack.Addr("security")

	g.send(g.pgpMIMEReport(1, "PGP/MIME: a report to answer"))
	g.waitProcessed(1)
	list := g.cases()
	if len(list) != 1 {
		t.Fatalf("%d cases, want 1", len(list))
	}
	c := list[0]
	outerOf := func(raw []byte) *mail.Message {
		t.Helper()
		m, err := mail.ReadMessage(bytes.NewReader(raw))
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	ackID := g.ackID(g.repAddr)
	for _, raw := range g.mailTo(g.repAddr) {
		if s := outerOf(raw).Header.Get("Subject"); s != "[...]" {
			t.Errorf("acknowledgement's outer Subject %q, want [...]", s)
		}
	}
	copies := g.stack.WaitMessages(t, "alice", "INBOX", 1, 60*time.Second)
	cp := outerOf(copies[0])
	if s := cp.Header.Get("Subject"); s != "[...]" {
		t.Errorf("team copy's outer Subject %q, want [...]", s)
	}
	copyID := cp.Header.Get("Message-ID")

	followUps := []struct {
		name, outer, inReplyTo string
	}{
		{"[...] in reply", "[...]", ackID},
		{"... in reply", "...", ackID},
		{"[...] by the protected tag", "[...]", ""},
		{"... by the protected tag", "...", ""},
	}
	for i, tt := range followUps {
		t.Run("follow-up "+tt.name, func(t *testing.T) {
			id := fmt.Sprintf("obscured-%d@outside.example", i)
			inner := "Content-Type: text/plain; charset=utf-8; protected-headers=\"v1\"\r\n" +
				"Subject: Re: [" + c.Ref + "] Your report was received\r\n\r\n" +
				fmt.Sprintf("Follow-up %d: more detail.\r\n", i)
			var extra []string
			if tt.inReplyTo != "" {
				extra = append(extra, "In-Reply-To: "+tt.inReplyTo)
			}
			g.send(encryptedMail("Reporter <"+g.repAddr+">", team, tt.outer, id, "",
				g.reporter.Encrypt([]byte(inner), g.team.Fingerprint(), g.repFpr), extra...))
			g.waitHandled(id)
			if r := g.inbound(id); r.class != ClassFollowUp || r.caseID != c.ID {
				t.Errorf("follow-up ended %s %s %q in case %d, want a follow-up of case %d", r.state, r.class, r.reason, r.caseID, c.ID)
			}
		})
	}

	commands := []struct{ outer, class string }{{"[...]", "C2"}, {"...", "D"}}
	for i, tt := range commands {
		t.Run("command under "+tt.outer, func(t *testing.T) {
			id := fmt.Sprintf("obscured-cmd-%d", i)
			g.submit("alice", g.memberMail("alice", g.bound(signedMail{id: id, subject: tt.outer, inReplyTo: copyID,
				body: "/class " + tt.class}, c.Ref)))
			g.waitHandled(id + "@example.test")
			if r := g.inbound(id + "@example.test"); r.class != ClassCommand {
				t.Errorf("command ended %s %s %q, want a command", r.state, r.class, r.reason)
			}
			if got, _ := g.workflow.Get(g.ctx, c.Ref); got.Class != tt.class {
				t.Errorf("class %q after /class %s; last refusal %q", got.Class, tt.class, g.lastRefusal(c.ID))
			}
		})
	}
}
