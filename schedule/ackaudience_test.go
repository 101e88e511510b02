package schedule

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/secgate/secgate/distlist"
)

// TestAckRemindersEachList: a case told to two embargo lists at once has
// an embargo notice on each, and each asks to be acknowledged: the later
// list's notice does not end the earlier one's. Every silent recipient of
// each list is reminded once, Vendor One (on both lists) once per list, and
// the table shows each one silent.
func TestAckRemindersEachList(t *testing.T) {
	now := utc("2026-12-01 10:00")
	e, _ := newAckEnv(t, now)
	e.s = e.withDistros(distlist.Rules{}, true) // no rules: both lists are told at once
	c := e.newCase(1, "knative", now.Add(-5*Day))
	if _, err := e.disclose(c, now.Add(25*Day), ""); err != nil {
		t.Fatal(err)
	}
	delivered := now.Add(time.Minute)
	e.deliver(MailEmbargoNotice, delivered)
	e.clk.Set(delivered.Add(time.Hour))
	as, err := e.s.Acks(e.ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	var silent []string
	for _, a := range as {
		if a.Silent() {
			silent = append(silent, a.Recipient)
		}
	}
	slices.Sort(silent)
	if want := "psirt@vendor2.example sec@distro.example sec@vendor1.example sec@vendor1.example"; strings.Join(silent, " ") != want {
		t.Errorf("silent: %q, want %q", silent, want)
	}
	remind := delivered.Add(DefaultAckReminder)
	e.clk.Set(remind)
	for range 2 { // the second check sends nothing again
		if _, err := e.s.CheckAcks(e.ctx); err != nil {
			t.Fatal(err)
		}
	}
	// Each list's notice has its reminders (the lines group them by notice).
	var want []string
	for _, to := range []string{vendors, distros} {
		want = append(want, remind.Format("2006-01-02 15:04")+" ack-reminder encrypted to "+to)
	}
	got := e.ackMails()
	slices.Sort(got)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("reminders:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}
