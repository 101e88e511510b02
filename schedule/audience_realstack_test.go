package schedule

import (
	"bytes"
	"context"
	"database/sql"
	"net/mail"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/secgate/secgate/crypto"
	"github.com/secgate/secgate/distlist"
	"github.com/secgate/secgate/internal/gpgtest"
	"github.com/secgate/secgate/internal/mailstack"
)

// TestAudiencesRealStack runs a knative embargo for two lists through
// Postfix and Dovecot, the lists' rules loaded by the configuration sync:
// "embargo" (the policy's rules) and "distros" (at most 14 days, subjects
// tagged [vs]). Each distributor reads its mail with its own gpg: Dana on
// embargo, Vic on distros, Bea on both. The embargo list is told at once,
// distros 14 days before T0; a forced re-plan sends both a change notice
// (same calendar UID, SEQUENCE 2), publish-now both the cancellation
// (METHOD:CANCEL, SEQUENCE 3). Each gets only its own lists' notices, a
// copy encrypted to them alone (Vic's gpg cannot read Dana's), with its
// list's tag; Bea gets each notice once per list.
func TestAudiencesRealStack(t *testing.T) {
	ctx := context.Background()
	stack := mailstack.Start(t, mailstack.Options{Users: []string{"security", "lead", "dana", "vic", "bea", "announce"}})
	gw := newRealGateway(t, stack)
	team, teamPub, lead := gw.team, gw.teamPub, gw.lead
	// The configuration the sync loads: key files in a directory.
	keys := t.TempDir()
	write := func(name string, data []byte) string {
		if err := os.WriteFile(filepath.Join(keys, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
		return name
	}
	gpgs := map[string]*gpgtest.GPG{}
	entry := func(user string) distlist.RecipientConfig {
		g, ok := gpgs[user]
		if !ok {
			g = gpgtest.New(t)
			fpr := g.GenKey(user+" <"+stack.Addr(user)+">", "ed25519")
			g.Import([]byte(teamPub))
			write(user+".asc", g.Export(fpr))
			gpgs[user] = g
		}
		return distlist.RecipientConfig{Name: user, Address: stack.Addr(user), KeyFile: user + ".asc"}
	}
	cfg := distlist.Config{BaseDir: keys,
		Members: []distlist.MemberConfig{{Name: "Alice Lead", Address: stack.Addr("lead"), KeyFile: write("lead.asc", []byte(gw.leadPub)), Role: distlist.RoleLead}},
		Lists: []distlist.ListConfig{
			{Name: "embargo", Kind: distlist.KindEmbargo, Recipients: []distlist.RecipientConfig{entry("dana"), entry("bea")}},
			{Name: "distros", Kind: distlist.KindEmbargo, MaxEmbargo: 14 * Day, SubjectTag: "[vs]", Recipients: []distlist.RecipientConfig{entry("vic"), entry("bea")}},
			{Name: "announce", Kind: distlist.KindPublic, Recipients: []distlist.RecipientConfig{{Address: stack.Addr("announce")}}},
		}}
	if _, err := gw.dir.Sync(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	off := false
	e, flush := gw.start(t, Config{Policies: map[string]Override{"knative": {Audiences: &[]string{"embargo", "distros"}, PreAnnounce: &off, AnnounceToEmbargo: &off}}})
	clk, s := e.clk, e.s
	c := e.newCase(1, "knative", clk.Now().Add(-2*Day))
	t0 := clk.Now().Add(21*Day + time.Hour)
	plan, err := e.disclose(c, t0, "")
	if err != nil {
		t.Fatal(err)
	}
	containsAll(t, "plan", plan, "distros: not told now: the embargo of 21 days 1 hour is longer than its 14 days")
	flush()
	e.advance(t0.Add(-14 * Day))
	flush()
	t1 := t0.Add(-Day)
	if _, err := e.disclose(c, t1, "the fix is ready early"); err != nil {
		t.Fatal(err)
	}
	flush()
	e.clk.Set(e.clk.Now().Add(time.Hour))
	if err := e.tx(func(tx *sql.Tx) error {
		return s.PublishNow(ctx, tx, c, "exploit posted on a public forum", lead.Fingerprint())
	}); err != nil {
		t.Fatal(err)
	}
	flush()

	// What each distributor reads: "tag kind method SEQUENCE DTSTART".
	start := func(t time.Time) string { return t.UTC().Format("20060102T150405Z") }
	notices := func(tag string) []string {
		return []string{
			tag + "EMBARGOED: Example PUBLISH 1 " + start(t0),
			tag + "EMBARGOED: new disclosure date PUBLISH 2 " + start(t1),
			tag + "EMBARGO LIFTED: Example CANCEL 3 " + start(t1),
		}
	}
	want := map[string][]string{
		"dana": notices(""),
		"vic":  notices("[vs] "),
		"bea":  append(notices(""), notices("[vs] ")...),
	}
	read := map[string][][]byte{}
	for user, w := range want {
		msgs := stack.WaitMessages(t, user, "INBOX", len(w), 20*time.Second)
		read[user] = msgs
		var got []string
		for _, raw := range msgs {
			part := openNotice(t, gpgs[user], user, raw, team.Fingerprint())
			m, err := mail.ReadMessage(bytes.NewReader(part))
			if err != nil {
				t.Fatal(err)
			}
			subj := m.Header.Get("Subject")
			tag, rest := "", subj
			if strings.HasPrefix(subj, "[vs] ") {
				tag, rest = "[vs] ", strings.TrimPrefix(subj, "[vs] ")
			}
			rest = strings.TrimPrefix(rest, "["+c.Ref+"] ")
			_, atts, err := crypto.TextBody(part)
			if err != nil || len(atts) != 1 {
				t.Fatalf("%s: %q: attachments %v %+v", user, subj, err, atts)
			}
			cal, err := checkICS(atts[0].Data)
			if err != nil {
				t.Fatalf("%s: %q: calendar: %v\n%s", user, subj, err, atts[0].Data)
			}
			if cal.Event["UID"] != c.Ref+"-disclosure@secgate" || !bytes.Contains(part, []byte("text/calendar; charset=utf-8; method="+cal.Method)) {
				t.Errorf("%s: %q: UID %s, or the attachment's type does not name METHOD:%s", user, subj, cal.Event["UID"], cal.Method)
			}
			if i := strings.Index(rest, " ("); i >= 0 {
				rest = rest[:i] // the CVE ID
			}
			if strings.HasPrefix(rest, "EMBARGOED: new disclosure date") {
				rest = "EMBARGOED: new disclosure date"
			}
			got = append(got, tag+rest+" "+cal.Method+" "+cal.Event["SEQUENCE"]+" "+cal.Event["DTSTART"])
		}
		sort.Strings(got)
		sort.Strings(w)
		if strings.Join(got, "\n") != strings.Join(w, "\n") {
			t.Errorf("%s read:\n  %s\nwant:\n  %s", user, strings.Join(got, "\n  "), strings.Join(w, "\n  "))
		}
	}
	// Each copy is encrypted to its distributor alone.
	for _, raw := range read["dana"] {
		if _, r := decryptNotice(t, gpgs["vic"], "vic", raw); r.Err == nil || r.Has("DECRYPTION_OKAY") {
			t.Error("Vic's gpg decrypts Dana's copy")
		}
	}
	if ann := stack.WaitMessages(t, "announce", "INBOX", 1, 20*time.Second); len(ann) != 1 {
		t.Errorf("announce: %d messages, want the announcement", len(ann))
	}
	if q := stack.Queue(t); len(q) != 0 {
		t.Fatalf("Postfix still holds %d messages", len(q))
	}
	for user, w := range want {
		if n := len(stack.Messages(t, user, "INBOX")); n != len(w) {
			t.Errorf("%s: %d messages, want %d", user, n, len(w))
		}
	}
}
