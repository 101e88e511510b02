package schedule

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"mime"
	"net/mail"
	"strings"
	"testing"
	"time"

	"github.com/secgate/secgate/crypto"
	"github.com/secgate/secgate/distlist"
	"github.com/secgate/secgate/internal/gpgtest"
	"github.com/secgate/secgate/internal/mailstack"
)

// TestTimelineRealStack sends a real embargo notice, pre-release notice
// and announcement through Postfix into Dovecot mailboxes. Each
// distributor decrypts and verifies its notices with gpg, as itself; the
// public list gets the announcement signed and in clear. The scheduler runs
// on a simulated clock (three weeks pass in an instant), the outbox and the
// mail stack on the real one.
func TestTimelineRealStack(t *testing.T) {
	ctx := context.Background()
	stack := mailstack.Start(t, mailstack.Options{Users: []string{"security", "lead", "distro1", "distro2", "announce"}})
	gw := newRealGateway(t, stack)
	team, db, dir, teamPub := gw.team, gw.db, gw.dir, gw.teamPub
	type distro struct {
		user, addr, fpr string
		gpg             *gpgtest.GPG
	}
	var distros []*distro
	err := db.Tx(ctx, func(tx *sql.Tx) error {
		if _, err := dir.AddMember(ctx, tx, distlist.MemberSpec{Name: "Alice Lead", Address: stack.Addr("lead"), Role: distlist.RoleLead, Key: []byte(gw.leadPub)}); err != nil {
			return err
		}
		if err := dir.CreateList(ctx, tx, "embargo", distlist.KindEmbargo, ""); err != nil {
			return err
		}
		if err := dir.CreateList(ctx, tx, "announce", distlist.KindPublic, ""); err != nil {
			return err
		}
		for i := 1; i <= 2; i++ {
			d := &distro{user: fmt.Sprintf("distro%d", i), addr: stack.Addr(fmt.Sprintf("distro%d", i)), gpg: gpgtest.New(t)}
			d.fpr = d.gpg.GenKey(fmt.Sprintf("Distributor %d <%s>", i, d.addr), "ed25519")
			d.gpg.Import([]byte(teamPub))
			if _, err := dir.AddRecipient(ctx, tx, "embargo", distlist.RecipientSpec{Name: fmt.Sprintf("Distributor %d", i), Address: d.addr, Key: d.gpg.Export(d.fpr)}); err != nil {
				return err
			}
			distros = append(distros, d)
		}
		_, err := dir.AddRecipient(ctx, tx, "announce", distlist.RecipientSpec{Address: stack.Addr("announce")})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	e, flush := gw.start(t, Config{})
	real := e.clk.Now()
	c := e.newCase(1, "knative", real.Add(-2*Day))
	t0 := real.Add(21*Day + time.Hour)
	if _, err := e.disclose(c, t0, ""); err != nil {
		t.Fatal(err)
	}
	flush()
	e.advance(t0.Add(-Day))
	flush()
	e.advance(t0)
	flush()

	wantT0 := "DTSTART:" + t0.Format("20060102T150405Z")
	for _, d := range distros {
		// The embargo notice, the 24-hour notice and (knative) the
		// release-day announcement, each encrypted to this distributor.
		msgs := stack.WaitMessages(t, d.user, "INBOX", 3, 20*time.Second)
		if len(msgs) != 3 {
			t.Fatalf("%s: %d messages, want 3", d.user, len(msgs))
		}
		// Delivery runs in parallel: they may arrive in any order.
		announced := "[SECURITY] Example"
		subjects := map[string]int{"EMBARGOED: Example": 0, "EMBARGOED: public release on " + t0.Format("2006-01-02 15:04") + " UTC": 0, announced: 0}
		for i, raw := range msgs {
			part := openNotice(t, d.gpg, d.user, raw, team.Fingerprint())
			for subj := range subjects {
				if bytes.Contains(part, []byte(subj)) {
					subjects[subj]++
				}
			}
			_, atts, err := crypto.TextBody(part)
			if bytes.Contains(part, []byte(announced)) {
				if err != nil || len(atts) != 0 {
					t.Errorf("%s: announcement %v %+v", d.user, err, atts)
				}
				continue
			}
			if err != nil || len(atts) != 1 || !bytes.Contains(atts[0].Data, []byte(wantT0)) {
				t.Errorf("%s message %d: calendar %v %+v", d.user, i, err, atts)
			}
		}
		for subj, n := range subjects {
			if n != 1 {
				t.Errorf("%s: %d messages with the protected subject %q, want 1", d.user, n, subj)
			}
		}
	}
	// The knative preset tells the public list the date first (the
	// pre-announcement, with the embargo notice), then announces.
	ann := stack.WaitMessages(t, "announce", "INBOX", 2, 20*time.Second)
	if len(ann) != 2 {
		t.Fatalf("announce: %d messages", len(ann))
	}
	g := gpgtest.New(t)
	g.Import([]byte(teamPub))
	planned := "security release planned for " + t0.UTC().Format("2006-01-02 15:04 UTC")
	pre := 0
	for i := range ann {
		m, err := mail.ReadMessage(bytes.NewReader(gpgtest.CRLF(ann[i])))
		if err != nil {
			t.Fatal(err)
		}
		// Both may arrive in either order (the outbox sends in parallel).
		if subj := m.Header.Get("Subject"); strings.Contains(subj, planned) {
			pre++
		} else if !strings.Contains(subj, "[SECURITY]") {
			t.Errorf("public message %d: subject %q", i, subj)
		}
		ct, params, _ := mime.ParseMediaType(m.Header.Get("Content-Type"))
		if ct != "multipart/signed" {
			t.Fatalf("public message %d: content type %q", i, ct)
		}
		body := new(bytes.Buffer)
		body.ReadFrom(m.Body)
		part, sigPart := gpgtest.SplitTwo(t, body.Bytes(), params["boundary"])
		_, sig, _ := bytes.Cut(sigPart, []byte("\r\n\r\n"))
		if v := g.Verify(part, sig); v.Err != nil || !v.Has("VALIDSIG") {
			t.Fatalf("public message %d: gpg --verify: %v\n%s", i, v.Err, v.Stderr)
		}
	}
	if pre != 1 {
		t.Errorf("%d pre-announcements among the public messages, want 1", pre)
	}
	if msgs := stack.Messages(t, "lead", "INBOX"); len(msgs) != 0 {
		t.Errorf("lead got %d messages before the retrospective", len(msgs))
	}
}

// openNotice reads a notice as its distributor's client does: the outer
// message is multipart/encrypted under the obscured subject; g (the
// distributor's gpg) decrypts it and verifies the team's signature over
// the inner part, which it returns (headers and body, CRLF).
func openNotice(t *testing.T, g *gpgtest.GPG, who string, raw []byte, teamFpr string) []byte {
	t.Helper()
	inner, r := decryptNotice(t, g, who, raw)
	if r.Err != nil || !r.Has("DECRYPTION_OKAY") {
		t.Fatalf("%s: gpg --decrypt: %v\n%s", who, r.Err, r.Stderr)
	}
	ih, ibody, _ := bytes.Cut(inner, []byte("\r\n\r\n"))
	hdr := strings.NewReplacer("\r\n\t", " ", "\r\n ", " ").Replace(string(ih))
	var ctLine string
	for _, l := range strings.Split(hdr, "\r\n") {
		if strings.HasPrefix(strings.ToLower(l), "content-type:") {
			ctLine = strings.TrimSpace(l[len("content-type:"):])
		}
	}
	_, ip, err := mime.ParseMediaType(ctLine)
	if err != nil {
		t.Fatalf("%s: inner content type %q: %v", who, ctLine, err)
	}
	part, sigPart := gpgtest.SplitTwo(t, ibody, ip["boundary"])
	_, sig, _ := bytes.Cut(sigPart, []byte("\r\n\r\n"))
	v := g.Verify(part, sig)
	if v.Err != nil || !v.Has("VALIDSIG") {
		t.Fatalf("%s: gpg --verify: %v\n%s", who, v.Err, v.Stderr)
	}
	if a := v.Args("VALIDSIG"); a[len(a)-1] != teamFpr {
		t.Errorf("%s: signed by %s, want the team key", who, a[len(a)-1])
	}
	return part
}

// decryptNotice checks the outer form of an encrypted notice and has g
// decrypt it: the plaintext and gpg's result, which may be a failure.
func decryptNotice(t *testing.T, g *gpgtest.GPG, who string, raw []byte) ([]byte, *gpgtest.Result) {
	t.Helper()
	m, err := mail.ReadMessage(bytes.NewReader(gpgtest.CRLF(raw)))
	if err != nil {
		t.Fatal(err)
	}
	if m.Header.Get("Subject") != crypto.ObscuredSubject {
		t.Errorf("%s: outer subject %q", who, m.Header.Get("Subject"))
	}
	ct, params, err := mime.ParseMediaType(m.Header.Get("Content-Type"))
	if err != nil || ct != "multipart/encrypted" {
		t.Fatalf("%s: content type %q %v", who, ct, err)
	}
	body := new(bytes.Buffer)
	body.ReadFrom(m.Body)
	_, data := gpgtest.SplitTwo(t, body.Bytes(), params["boundary"])
	_, armored, _ := bytes.Cut(data, []byte("\r\n\r\n"))
	r := g.Decrypt(armored)
	return r.Stdout, r
}
