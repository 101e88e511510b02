package intake

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/secgate/secgate/cases"
	"github.com/secgate/secgate/crypto"
	"github.com/secgate/secgate/distlist"
	"github.com/secgate/secgate/internal/gpgtest"
)

// otherDistributor is on the embargo list before any application: nothing
// an applicant receives may name it.
const otherDistributor = "psirt@other-vendor.example"

// applyGateway is the real stack with an embargo list "embargo" that takes
// applications (one distributor on it already), a list "closed" that
// takes none and a public list "announce".
func applyGateway(t *testing.T, configure func(*Config)) *gateway {
	g := startGatewayOpts(t, false, configure)
	other := g.newOutsider("Other Vendor", otherDistributor)
	err := g.db.Tx(g.ctx, func(tx *sql.Tx) error {
		for _, l := range []struct{ name, kind string }{{"embargo", distlist.KindEmbargo}, {"closed", distlist.KindEmbargo}, {"announce", distlist.KindPublic}} {
			if err := g.dir.CreateList(g.ctx, tx, l.name, l.kind, ""); err != nil {
				return err
			}
		}
		if err := g.dir.SetApplications(g.ctx, tx, "embargo", true, nil); err != nil {
			return err
		}
		_, err := g.dir.AddRecipient(g.ctx, tx, "embargo", distlist.RecipientSpec{Address: other.addr, Key: other.gp.Export(other.fpr)})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// encryptedApplication is an application as gpg makes it: PGP/MIME,
// signed and encrypted to the team key, the applicant's public key
// attached inside.
func (g *gateway) encryptedApplication(o *outsider, id, text string) []byte {
	inner := "Content-Type: multipart/mixed; boundary=\"in\"\r\n\r\n--in\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" +
		strings.ReplaceAll(text, "\n", "\r\n") +
		"\r\n--in\r\nContent-Type: application/pgp-keys\r\nContent-Disposition: attachment; filename=\"key.asc\"\r\n\r\n" +
		strings.ReplaceAll(string(o.gp.Export(o.fpr)), "\n", "\r\n") + "\r\n--in--\r\n"
	enc := o.gp.Encrypt([]byte(inner), g.team.Fingerprint(), o.fpr)
	return gpgtest.CRLF([]byte(fmt.Sprintf("From: <%s>\nTo: %s\nSubject: ...\nDate: %s\nMessage-ID: <%s@outside.example>\nMIME-Version: 1.0\n"+
		"Content-Type: multipart/encrypted; protocol=\"application/pgp-encrypted\"; boundary=\"enc\"\n\n"+
		"--enc\nContent-Type: application/pgp-encrypted\n\nVersion: 1\n\n--enc\nContent-Type: application/octet-stream; name=\"encrypted.asc\"\n\n%s\n--enc--\n",
		o.addr, g.stack.Addr("security"), time.Now().Format(time.RFC1123Z), id, enc)))
}

// clearApplication is an application in clear; headers are added to the
// header section, attach (a file's content) is sent as key.asc.
func (g *gateway) clearApplication(from, id, headers, text string, attach []byte) []byte {
	body := "Content-Type: text/plain; charset=utf-8\n\n" + text
	if attach != nil {
		body = "Content-Type: multipart/mixed; boundary=\"mx\"\n\n--mx\nContent-Type: text/plain; charset=utf-8\n\n" + text +
			"\n--mx\nContent-Type: application/pgp-keys\nContent-Disposition: attachment; filename=\"key.asc\"\n\n" + string(attach) + "\n--mx--\n"
	}
	return gpgtest.CRLF([]byte(fmt.Sprintf("From: <%s>\nTo: %s\nSubject: application\nDate: %s\nMessage-ID: <%s@outside.example>\n%sMIME-Version: 1.0\n%s",
		from, g.stack.Addr("security"), time.Now().Format(time.RFC1123Z), id, headers, body)))
}

// sendFrom delivers raw from addr through the MX.
func (g *gateway) sendFrom(addr string, raw []byte) {
	g.t.Helper()
	g.stack.Send(g.t, addr, []string{g.stack.Addr("security")}, raw)
}

// awaitMailTo waits until the sink holds n messages for addr.
func (g *gateway) awaitMailTo(addr string, n int) [][]byte {
	g.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		got := g.mailTo(addr)
		if len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			g.t.Fatalf("%d messages for %s after 60 s, want %d", len(got), addr, n)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// listCommand sends a lead's signed /list command, meant for the gateway.
func (g *gateway) listCommand(member, id, body string) {
	g.t.Helper()
	g.submit(member, g.memberMail(member, signedMail{id: id, signedTo: g.stack.Addr("security"), body: body}))
	g.waitHandled(id + "@example.test")
}

func (g *gateway) applications() []cases.Application {
	g.t.Helper()
	apps, err := g.workflow.Applications(g.ctx, "")
	if err != nil {
		g.t.Fatal(err)
	}
	return apps
}

// noOtherAddress fails when text names another address of the list or the
// team than the applicant's own.
func noOtherAddress(t *testing.T, g *gateway, what, text string) {
	t.Helper()
	for _, a := range []string{otherDistributor, g.stack.Addr("alice"), g.stack.Addr("bob")} {
		if strings.Contains(text, a) {
			t.Errorf("%s names %s:\n%s", what, a, text)
		}
	}
}

// TestRealStackApplicationApproved: a distributor applies with gpg, the
// mail signed and encrypted to the team key, their key attached. The
// application is stored, the applicant gets a receipt encrypted to their
// key, every member gets the application encrypted to them with the key's
// fingerprint and the criteria as a checklist; nothing is approved until a
// lead signs /list approve, which adds them with that key and sends them
// the embargo policy, encrypted. Nothing the applicant receives names
// anyone else on the list or the team.
func TestRealStackApplicationApproved(t *testing.T) {
	if testing.Short() {
		t.Skip("real mail stack")
	}
	g := applyGateway(t, nil)
	defer g.poll()()
	o := g.newOutsider("Distro PSIRT", "psirt@distro.example")
	// The applicant writes the approval into their text: no member's
	// mail that carries the line runs it.
	planted := fmt.Sprintf("/list approve APP-%d-0001", time.Now().UTC().Year())
	g.sendFrom(o.addr, g.encryptedApplication(o, "app-1", "/apply embargo\n\nWe ship Example in Distro Linux, 40 000 installations.\n"+planted+"\n"))
	g.waitHandled("app-1@outside.example")
	in := g.inbound("app-1@outside.example")
	apps := g.applications()
	if in.class != ClassApplication || len(apps) != 1 || apps[0].State != cases.AppPending || apps[0].Fingerprint != o.fpr || apps[0].Address != o.addr {
		t.Fatalf("inbound %+v, applications %+v", in, apps)
	}
	ref := apps[0].Ref
	if !strings.HasPrefix(ref, "APP-") || !strings.Contains(in.reason, ref) {
		t.Errorf("reference %q, reason %q", ref, in.reason)
	}
	var sealed []byte
	g.db.Reader().QueryRow(`SELECT sealed FROM application WHERE ref = ?`, ref).Scan(&sealed)
	if strings.Contains(string(sealed), "Distro Linux") || len(sealed) == 0 {
		t.Error("the rationale is stored in clear")
	}
	receipt := contentOf(t, o.gp, g.awaitMailTo(o.addr, 1)[0], g.team.Fingerprint())
	if !strings.Contains(receipt, ref) || !strings.Contains(receipt, o.fpr) {
		t.Errorf("receipt:\n%s", receipt)
	}
	noOtherAddress(t, g, "the receipt", receipt)
	for _, m := range []string{"alice", "bob"} {
		texts := g.awaitText(m, "Application to embargo")
		found := false
		for _, tx := range texts {
			found = found || strings.Contains(tx, ref) && strings.Contains(tx, o.fpr) && strings.Contains(tx, "[ ] Which distribution") &&
				strings.Contains(tx, "| We ship Example in Distro Linux") && strings.Contains(tx, "Encrypted:   yes")
		}
		if !found {
			t.Errorf("%s got no application with the key and the checklist: %q", m, texts)
		}
	}
	if l, _ := g.dir.List(g.ctx, "embargo"); len(l.Recipients) != 1 {
		t.Fatalf("the applicant is on the list before any approval: %+v", l.Recipients)
	}

	g.listCommand("alice", "approve-0", "> Thanks for your application:\n"+planted)
	if apps := g.applications(); apps[0].State != cases.AppPending {
		t.Fatalf("the line the applicant planted ran: %+v", apps[0])
	}
	if evs := g.audit(cases.GatewayLog, cases.ActionRefused); len(evs) == 0 || !strings.Contains(evs[len(evs)-1].Detail, "untrusted text") {
		t.Errorf("the planted line was not refused as untrusted: %+v", evs)
	}
	g.listCommand("alice", "approve-1", "/list approve  "+ref)
	if apps := g.applications(); apps[0].State != cases.AppApproved {
		t.Fatalf("after /list approve: %+v; audit %+v", apps[0], g.audit(cases.GatewayLog, cases.ActionRefused))
	}
	l, err := g.dir.List(g.ctx, "embargo")
	if err != nil {
		t.Fatal(err)
	}
	on := false
	for _, r := range l.Recipients {
		on = on || r.Address == o.addr && r.Key != nil && r.Key.Fingerprint() == o.fpr
	}
	if !on {
		t.Errorf("the applicant is not on the list with their key: %+v", l.Recipients)
	}
	welcome := contentOf(t, o.gp, g.awaitMailTo(o.addr, 2)[1], g.team.Fingerprint())
	if !strings.Contains(welcome, "was approved") || !strings.Contains(welcome, "may not publish") {
		t.Errorf("welcome:\n%s", welcome)
	}
	noOtherAddress(t, g, "the welcome", welcome)
	if evs := g.audit(cases.GatewayLog, "list"); len(evs) == 0 || !strings.Contains(evs[len(evs)-1].Detail, ref+" approved") {
		t.Errorf("approval not audited: %+v", evs)
	}
}

// poll runs the poller until the function it returns is called.
func (g *gateway) poll() func() {
	ctx, cancel := context.WithCancel(g.ctx)
	done := g.runPoller(ctx, nil)
	return func() { cancel(); <-done }
}

// embargoNotice queues an embargo notice of case 0 to the list "embargo"
// as the scheduler does (kind, list, encrypted), and returns whom the
// outbox skipped.
func (g *gateway) embargoNotice(id, text string) []distlist.Skipped {
	g.t.Helper()
	l, err := g.dir.List(g.ctx, "embargo")
	if err != nil {
		g.t.Fatal(err)
	}
	var sk []distlist.Skipped
	err = g.db.Tx(g.ctx, func(tx *sql.Tx) error {
		sk, err = g.outbox.Enqueue(g.ctx, tx, distlist.Mail{Kind: "embargo-notice", NoticeID: id, List: "embargo", Encrypt: true,
			Content:    crypto.Content{Subject: "EMBARGOED", Entity: []byte("Content-Type: text/plain; charset=utf-8\r\n\r\n" + text + "\r\n")},
			Recipients: l.Recipients})
		return err
	})
	if err != nil {
		g.t.Fatal(err)
	}
	g.outbox.Kick()
	return sk
}

// TestRealStackSuspendAndRemove: a lead suspends a distributor by signed
// mail: a notice queued to the embargo list then skips them (the other
// distributor gets it, gpg decrypts it); reinstated, they get the next;
// removed from the list, they are told, encrypted to their key.
func TestRealStackSuspendAndRemove(t *testing.T) {
	if testing.Short() {
		t.Skip("real mail stack")
	}
	g := applyGateway(t, nil)
	defer g.poll()()
	o := g.newOutsider("Distro PSIRT", "psirt@distro.example")
	if _, err := g.dir.AddRecipient(g.ctx, nil, "embargo", distlist.RecipientSpec{Address: o.addr, Key: o.gp.Export(o.fpr)}); err != nil {
		t.Fatal(err)
	}
	g.listCommand("alice", "suspend-1", "/list suspend "+o.addr+" told a journalist about SEC-2026-0001")
	sus, err := g.dir.Suspensions(g.ctx)
	if err != nil || len(sus) != 1 || sus[0].Address != o.addr || sus[0].Reason != "told a journalist about SEC-2026-0001" {
		t.Fatalf("suspensions %+v %v; refusals %+v", sus, err, g.audit(cases.GatewayLog, cases.ActionRefused))
	}
	if evs := g.audit(cases.GatewayLog, "list"); len(evs) == 0 || strings.Contains(evs[len(evs)-1].Detail, "journalist") ||
		!strings.Contains(evs[len(evs)-1].Detail, o.addr+" suspended") {
		t.Errorf("suspension audit: %+v", evs)
	}
	sk := g.embargoNotice("notice-1", "FIRST NOTICE")
	if len(sk) != 1 || sk[0].Recipient.Address != o.addr || !strings.Contains(sk[0].Reason, "suspended") {
		t.Errorf("skipped %+v, want the suspended distributor alone", sk)
	}
	other := g.awaitMailTo(otherDistributor, 1)
	if len(other) != 1 {
		t.Fatalf("the other distributor got %d notices", len(other))
	}

	g.listCommand("alice", "reinstate-1", "/list reinstate "+o.addr)
	if sk := g.embargoNotice("notice-2", "SECOND NOTICE"); len(sk) != 0 {
		t.Errorf("skipped after reinstatement: %+v", sk)
	}
	got := g.awaitMailTo(o.addr, 1)
	if text := contentOf(t, o.gp, got[0], g.team.Fingerprint()); !strings.Contains(text, "SECOND NOTICE") {
		t.Errorf("the reinstated distributor got:\n%s", text)
	}
	g.awaitMailTo(otherDistributor, 2)
	for _, raw := range g.mailTo(o.addr) {
		if text := contentOf(t, o.gp, raw, g.team.Fingerprint()); strings.Contains(text, "FIRST NOTICE") {
			t.Error("the notice queued while suspended reached the distributor")
		}
	}

	g.listCommand("bob", "remove-1", "/list remove embargo "+o.addr)
	removed := contentOf(t, o.gp, g.awaitMailTo(o.addr, 2)[1], g.team.Fingerprint())
	if !strings.Contains(removed, "was removed from the Example embargo list") {
		t.Errorf("removal notice:\n%s", removed)
	}
	noOtherAddress(t, g, "the removal notice", removed)
}
