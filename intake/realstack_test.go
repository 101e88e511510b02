package intake

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/base64"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/mail"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp/armor"

	"github.com/secgate/secgate/cases"
	"github.com/secgate/secgate/crypto"
	"github.com/secgate/secgate/distlist"
	"github.com/secgate/secgate/internal/clock"
	"github.com/secgate/secgate/internal/gpgtest"
	"github.com/secgate/secgate/internal/mailstack"
	"github.com/secgate/secgate/store"
	"github.com/secgate/secgate/templates"
)

// gateway is the real stack: mail servers, database, outbox, workflow,
// processor and poller.
type gateway struct {
	t        testing.TB
	ctx      context.Context
	stack    *mailstack.Stack
	db       *store.DB
	dbPath   string
	team     *crypto.Key
	teamPub  string
	dir      *distlist.Directory
	outbox   *distlist.Outbox
	workflow *cases.Workflow
	proc     *Processor
	cfg      Config
	members  map[string]*gpgtest.GPG // user -> gpg home with their key
	reporter *gpgtest.GPG
	repFpr   string
	repAddr  string

	stopOutbox func()
	pushLn     net.Listener // startPushGateway: where Dovecot posts
}

func startGateway(t testing.TB) *gateway { return startGatewayOpts(t, false, nil) }

// startPushGateway is startGateway with Dovecot's push notifications
// posted to g.pushLn (serve them with g.servePush) and asked for by the
// poller's configuration.
func startPushGateway(t testing.TB) *gateway { return startGatewayOpts(t, true, nil) }

// startGatewayOpts starts the real stack; configure, if not nil, changes
// intake's configuration before the processor is built.
func startGatewayOpts(t testing.TB, push bool, configure func(*Config)) *gateway {
	t.Helper()
	ctx := context.Background()
	g := &gateway{t: t, ctx: ctx, members: map[string]*gpgtest.GPG{}}
	opts := mailstack.Options{Users: []string{"security", "alice", "bob"}}
	if push {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ln.Close() })
		g.pushLn, opts.PushURL = ln, "http://"+ln.Addr().String()+"/push"
	}
	g.stack = mailstack.Start(t, opts)
	var err error
	g.team, err = crypto.GenerateKey("Security Team", g.stack.Addr("security"), crypto.GenerateOptions{Created: time.Now().Add(-time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	g.teamPub, _ = g.team.ArmorPublic()
	// Data at rest sealed with a data key, as the gateway seals it.
	dk, err := crypto.GenerateDataKey(1)
	if err != nil {
		t.Fatal(err)
	}
	g.team = g.team.WithDataKeys(dk)
	g.dbPath = filepath.Join(t.TempDir(), "gw.db")
	g.db, err = store.Open(ctx, g.dbPath)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.db.Close() })
	g.dir = distlist.NewDirectory(g.db, clock.Real{}, nil)
	err = g.db.Tx(ctx, func(tx *sql.Tx) error {
		for i, u := range []string{"alice", "bob"} {
			gp := gpgtest.New(t)
			addr := g.stack.Addr(u)
			fpr := gp.GenKey(fmt.Sprintf("%s <%s>", u, addr), "ed25519")
			gp.Import([]byte(g.teamPub))
			g.members[u] = gp
			if _, err := g.dir.AddMember(ctx, tx, distlist.MemberSpec{Name: u, Address: addr, Role: distlist.RoleLead, Rota: i + 1, Key: gp.Export(fpr)}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	g.reporter = gpgtest.New(t)
	g.repAddr = "reporter@outside.example"
	g.repFpr = g.reporter.GenKey("Reporter <"+g.repAddr+">", "ed25519")
	g.reporter.Import([]byte(g.teamPub))

	from := "Security Team <" + g.stack.Addr("security") + ">"
	g.outbox, err = distlist.NewOutbox(ctx, distlist.OutboxOptions{DB: g.db, Directory: g.dir, TeamKey: g.team, Clock: clock.Real{}, Config: distlist.Config{
		From: from,
		SMTP: distlist.SMTPConfig{Addr: g.stack.SubmissionAddr, TLS: distlist.TLSNone, User: g.stack.Addr("security"), Password: g.stack.Password, Parallel: 4},
	}})
	if err != nil {
		t.Fatal(err)
	}
	set, err := templates.Load("")
	if err != nil {
		t.Fatal(err)
	}
	project := templates.Project{Name: "Example", TeamAddress: g.stack.Addr("security"), KeyFingerprint: g.team.Fingerprint()}
	g.workflow, err = cases.New(cases.Options{DB: g.db, Directory: g.dir, Outbox: g.outbox, Templates: set, TeamKey: g.team,
		TeamAddress: from, Project: project, Clock: clock.Real{}})
	if err != nil {
		t.Fatal(err)
	}
	g.cfg = Config{
		Address: g.stack.IMAPAddr, User: g.stack.Addr("security"), PasswordFile: filepath.Join(t.TempDir(), "imap-password"),
		TLS: TLSPlainLoopback, BackoffMin: 10 * time.Millisecond, BackoffMax: 100 * time.Millisecond, RateLimit: 1000, NewCasesPerDay: 1000,
		Push: push,
	}
	if configure != nil {
		configure(&g.cfg)
	}
	if err := writeFile(g.cfg.PasswordFile, g.stack.Password+"\n"); err != nil {
		t.Fatal(err)
	}
	g.proc, err = NewStackProcessor(StackOptions{Config: g.cfg, DB: g.db, TeamKey: g.team, Directory: g.dir, Outbox: g.outbox,
		Workflow: g.workflow, Templates: set, Project: project})
	if err != nil {
		t.Fatal(err)
	}
	octx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { g.outbox.Run(octx); close(done) }()
	var once sync.Once
	g.stopOutbox = func() { once.Do(func() { cancel(); <-done }) }
	t.Cleanup(g.stopOutbox)
	return g
}

// servePush serves Dovecot's push notifications to p on g.pushLn and
// returns the number of notifications received so far.
func (g *gateway) servePush(p *Poller) func() int {
	var n atomic.Int64
	h := PushHandler(p)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		h.ServeHTTP(w, r)
	})}
	go srv.Serve(g.pushLn)
	g.t.Cleanup(func() { srv.Close() })
	return func() int { return int(n.Load()) }
}

// runPoller starts a poller; hook may end it early (a crash).
func (g *gateway) runPoller(ctx context.Context, hook func(string) error) <-chan struct{} {
	p, err := NewPoller(g.cfg, g.db, g.team, g.proc, nil, nil)
	if err != nil {
		g.t.Fatal(err)
	}
	p.hook = hook
	done := make(chan struct{})
	go func() { p.Run(ctx); close(done) }()
	return done
}

// pgpMIMEReport is a report signed and encrypted by the reporter's gpg to
// the team key, with the reporter's public key attached inside.
func (g *gateway) pgpMIMEReport(n int, text string) []byte {
	inner := "Content-Type: multipart/mixed; boundary=\"in\"\r\n\r\n--in\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" + text +
		"\r\n--in\r\nContent-Type: application/pgp-keys\r\nContent-Disposition: attachment; filename=\"reporter.asc\"\r\n\r\n" +
		strings.ReplaceAll(string(g.reporter.Export(g.repFpr)), "\n", "\r\n") + "\r\n--in--\r\n"
	enc := g.reporter.Encrypt([]byte(inner), g.team.Fingerprint(), g.repFpr)
	return gpgtest.CRLF([]byte(fmt.Sprintf("From: Reporter <%s>\nTo: %s\nSubject: ...\nDate: %s\nMessage-ID: <pgpmime-%d@outside.example>\nMIME-Version: 1.0\n"+
		"Content-Type: multipart/encrypted; protocol=\"application/pgp-encrypted\"; boundary=\"enc\"\n\n"+
		"--enc\nContent-Type: application/pgp-encrypted\n\nVersion: 1\n\n--enc\nContent-Type: application/octet-stream; name=\"encrypted.asc\"\n\n%s\n--enc--\n",
		g.repAddr, g.stack.Addr("security"), time.Now().Format(time.RFC1123Z), n, enc)))
}

// inlineReport is an inline-PGP report; the reporter's key comes in an
// Autocrypt header.
func (g *gateway) inlineReport(n int, text string) []byte {
	enc := g.reporter.Encrypt([]byte(text+"\n"), g.team.Fingerprint(), "")
	return gpgtest.CRLF([]byte(fmt.Sprintf("From: Reporter <%s>\nTo: %s\nSubject: report\nDate: %s\nMessage-ID: <inline-%d@outside.example>\n"+
		"Autocrypt: addr=%s; keydata=%s\nMIME-Version: 1.0\nContent-Type: text/plain; charset=us-ascii\n\n%s",
		g.repAddr, g.stack.Addr("security"), time.Now().Format(time.RFC1123Z), n, g.repAddr, autocryptKeydata(g.t, g.reporter.Export(g.repFpr)), enc)))
}

// autocryptKeydata is the keydata of an Autocrypt header carrying the
// armored key, folded.
func autocryptKeydata(t testing.TB, armored []byte) string {
	blk, err := armor.Decode(bytes.NewReader(armored))
	if err != nil {
		t.Fatal(err)
	}
	bin, _ := io.ReadAll(blk.Body)
	kd := base64.StdEncoding.EncodeToString(bin)
	var folded strings.Builder
	for len(kd) > 70 {
		folded.WriteString("\n " + kd[:70])
		kd = kd[70:]
	}
	folded.WriteString("\n " + kd)
	return folded.String()
}

func (g *gateway) send(raw []byte) {
	g.t.Helper()
	g.stack.Send(g.t, g.repAddr, []string{g.stack.Addr("security")}, raw)
}

// openMail decrypts an encrypted message with gp and verifies the team
// signature inside; it returns the signed content.
func openMail(t testing.TB, gp *gpgtest.GPG, raw []byte, teamFpr string) []byte {
	t.Helper()
	raw = gpgtest.CRLF(raw)
	m, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	ct, params, err := mime.ParseMediaType(m.Header.Get("Content-Type"))
	if err != nil || ct != "multipart/encrypted" {
		t.Fatalf("content type %q %v (mail not encrypted)", ct, err)
	}
	body, _ := io.ReadAll(m.Body)
	_, data := gpgtest.SplitTwo(t, body, params["boundary"])
	_, armored, _ := bytes.Cut(data, []byte("\r\n\r\n"))
	r := gp.Decrypt(armored)
	if r.Err != nil || !r.Has("DECRYPTION_OKAY") {
		t.Fatalf("gpg --decrypt: %v\n%s", r.Err, r.Stderr)
	}
	ih, ibody, _ := bytes.Cut(gpgtest.CRLF(r.Stdout), []byte("\r\n\r\n"))
	hdr := strings.NewReplacer("\r\n\t", " ", "\r\n ", " ").Replace(string(ih))
	var ctLine string
	for _, l := range strings.Split(hdr, "\r\n") {
		if strings.HasPrefix(strings.ToLower(l), "content-type:") {
			ctLine = strings.TrimSpace(l[len("content-type:"):])
		}
	}
	_, ip, err := mime.ParseMediaType(ctLine)
	if err != nil {
		t.Fatalf("inner content type %q: %v", ctLine, err)
	}
	part, sigPart := gpgtest.SplitTwo(t, ibody, ip["boundary"])
	_, sig, _ := bytes.Cut(sigPart, []byte("\r\n\r\n"))
	v := gp.Verify(part, sig)
	if v.Err != nil || !v.Has("VALIDSIG") {
		t.Fatalf("gpg --verify: %v\n%s", v.Err, v.Stderr)
	}
	if a := v.Args("VALIDSIG"); a[len(a)-1] != teamFpr {
		t.Errorf("signed by %s, want the team key %s", a[len(a)-1], teamFpr)
	}
	return part
}

func TestRealStackEncryptedReports(t *testing.T) {
	if testing.Short() {
		t.Skip("real mail stack")
	}
	g := startGateway(t)
	ctx, cancel := context.WithCancel(g.ctx)
	done := g.runPoller(ctx, nil)
	defer func() { cancel(); <-done }()

	texts := []string{"PGP/MIME: heap overflow in the token parser", "INLINE: path traversal in the upload handler"}
	g.send(g.pgpMIMEReport(1, texts[0]))
	g.send(g.inlineReport(2, texts[1]))

	// Both land in Processed and open a case each.
	g.stack.WaitMessages(t, "security", "Processed", 2, 60*time.Second)
	list, err := g.workflow.List(g.ctx, cases.ListOptions{})
	if err != nil || len(list) != 2 {
		t.Fatalf("cases: %d, %v", len(list), err)
	}
	refs := map[string]bool{}
	for _, c := range list {
		refs[c.Ref] = true
		if c.State != cases.StateNew || c.ReporterAddr != g.repAddr || c.ReporterKey == "" {
			t.Errorf("case %s: state %s reporter %s key? %v", c.Ref, c.State, c.ReporterAddr, c.ReporterKey != "")
		}
	}
	var reason string
	g.db.Reader().QueryRow(`SELECT reason FROM inbound WHERE message_id = 'pgpmime-1@outside.example'`).Scan(&reason)
	if !strings.Contains(reason, "encrypted") || strings.Contains(reason, "not verified") {
		t.Errorf("PGP/MIME report: %q; want encrypted with a verified signature", reason)
	}
	if n := len(g.stack.Messages(t, "security", "INBOX")); n != 0 {
		t.Errorf("INBOX still holds %d messages", n)
	}

	// The reporter gets two acknowledgements, encrypted to them and signed
	// by the team key, naming the case and never quoting the report.
	acks := g.stack.WaitMessages(t, "sink", "INBOX", 2, 60*time.Second)
	for _, raw := range acks {
		content := string(openMail(t, g.reporter, raw, g.team.Fingerprint()))
		found := false
		for ref := range refs {
			found = found || strings.Contains(content, "["+ref+"]")
		}
		if !found {
			t.Errorf("ack names no case:\n%s", content)
		}
		for _, s := range texts {
			if strings.Contains(content, s) {
				t.Errorf("ack quotes the report %q", s)
			}
		}
	}
	// Each member gets their own copy of each report, encrypted to them.
	for user, gp := range g.members {
		msgs := g.stack.WaitMessages(t, user, "INBOX", 2, 60*time.Second)
		seen := map[string]bool{}
		for _, raw := range msgs {
			content := string(openMail(t, gp, raw, g.team.Fingerprint()))
			for _, s := range texts {
				if strings.Contains(content, s) {
					seen[s] = true
				}
			}
		}
		if len(seen) != 2 {
			t.Errorf("%s read %d of the 2 reports in their copies", user, len(seen))
		}
	}
}

func TestRealStackRestartMidBatch(t *testing.T) {
	for _, crashAt := range []string{"processed", "moved-on-server"} {
		t.Run(crashAt, func(t *testing.T) { testRestartMidBatch(t, crashAt) })
	}
}

func testRestartMidBatch(t *testing.T, crashAt string) {
	if testing.Short() {
		t.Skip("real mail stack")
	}
	g := startGateway(t)
	g.cfg.FetchBatch = 3
	const n = 8
	for i := range n {
		g.send(g.inlineReport(100+i, fmt.Sprintf("report number %d", i)))
	}
	g.stack.WaitMessages(t, "security", "INBOX", n, 60*time.Second)

	// The first gateway dies right after processing its first batch,
	// before moving it.
	ctx, kill := context.WithCancel(g.ctx)
	var once sync.Once
	<-g.runPoller(ctx, func(step string) error {
		if step == crashAt {
			once.Do(kill)
			return fmt.Errorf("crash")
		}
		return nil
	})
	var processed int
	g.db.Reader().QueryRow(`SELECT count(*) FROM inbound WHERE state = 'processed'`).Scan(&processed)
	if processed != 3 {
		t.Errorf("%d processed before the crash, want the first batch of 3", processed)
	}

	ctx2, cancel := context.WithCancel(g.ctx)
	done := g.runPoller(ctx2, nil)
	defer func() { cancel(); <-done }()
	g.stack.WaitMessages(t, "security", "Processed", n, 60*time.Second)
	acks := g.stack.WaitMessages(t, "sink", "INBOX", n, 60*time.Second)

	list, err := g.workflow.List(g.ctx, cases.ListOptions{})
	if err != nil || len(list) != n {
		t.Fatalf("%d cases (%v), want %d: something was repeated or lost", len(list), err, n)
	}
	var rows, distinct int
	g.db.Reader().QueryRow(`SELECT count(*), count(DISTINCT case_id) FROM inbound WHERE state = 'processed' AND class = 'report'`).Scan(&rows, &distinct)
	if rows != n || distinct != n {
		t.Errorf("inbound: %d processed reports in %d cases, want %d", rows, distinct, n)
	}
	// Let the outbox finish, then count: one ack per case, no more.
	g.stopOutbox()
	if err := g.outbox.Flush(g.ctx); err != nil {
		t.Fatal(err)
	}
	acks = g.stack.Messages(t, "sink", "INBOX")
	ids := map[string]bool{}
	for _, raw := range acks {
		m, err := mail.ReadMessage(bytes.NewReader(raw))
		if err != nil {
			t.Fatal(err)
		}
		ids[m.Header.Get("Message-ID")] = true
	}
	if len(acks) != n || len(ids) != n {
		t.Errorf("reporter holds %d acks (%d distinct), want %d", len(acks), len(ids), n)
	}
	if got := len(g.stack.Messages(t, "security", "Processed")); got != n {
		t.Errorf("Processed holds %d, want %d", got, n)
	}
}

// TestRealStackMemberCommand: a member answers their copy of a new report
// with a gpg-signed command; intake hands it to the workflow, which applies
// it to the case the thread points to.
func TestRealStackMemberCommand(t *testing.T) {
	if testing.Short() {
		t.Skip("real mail stack")
	}
	g := startGateway(t)
	ctx, cancel := context.WithCancel(g.ctx)
	done := g.runPoller(ctx, nil)
	defer func() { cancel(); <-done }()
	g.send(g.inlineReport(1, "INLINE: a report to confirm"))
	copies := g.stack.WaitMessages(t, "alice", "INBOX", 1, 60*time.Second)
	m, err := mail.ReadMessage(bytes.NewReader(copies[0]))
	if err != nil {
		t.Fatal(err)
	}
	copyID := m.Header.Get("Message-ID")

	g.command(t, "alice", "cmd-1", copyID, g.cases()[0].Ref, "/status confirmed")
	g.stack.WaitMessages(t, "security", "Processed", 2, 60*time.Second)
	var class, reason string
	g.db.Reader().QueryRow(`SELECT class, reason FROM inbound WHERE message_id = 'cmd-1@example.test'`).Scan(&class, &reason)
	if class != ClassCommand {
		t.Fatalf("command mail ended %q %q", class, reason)
	}
	list, err := g.workflow.List(g.ctx, cases.ListOptions{})
	if err != nil || len(list) != 1 {
		t.Fatalf("cases %d %v", len(list), err)
	}
	if list[0].State != cases.StateConfirmed {
		log, _ := g.workflow.AuditLog(g.ctx, list[0].ID)
		t.Errorf("case state %s after the signed command; audit: %+v", list[0].State, log)
	}
}

// TestRealStackFollowUp: the reporter answers the acknowledgement; the
// reply joins the case and each member gets a copy of it.
func TestRealStackFollowUp(t *testing.T) {
	if testing.Short() {
		t.Skip("real mail stack")
	}
	g := startGateway(t)
	ctx, cancel := context.WithCancel(g.ctx)
	done := g.runPoller(ctx, nil)
	defer func() { cancel(); <-done }()
	g.send(g.inlineReport(1, "INLINE: first report"))
	acks := g.stack.WaitMessages(t, "sink", "INBOX", 1, 60*time.Second)
	m, err := mail.ReadMessage(bytes.NewReader(acks[0]))
	if err != nil {
		t.Fatal(err)
	}
	reply := gpgtest.CRLF([]byte(fmt.Sprintf("From: Reporter <%s>\nTo: %s\nSubject: Re: ...\nDate: %s\nMessage-ID: <followup-1@outside.example>\nIn-Reply-To: %s\n\nMore detail: it also crashes on 32-bit builds.\n",
		g.repAddr, g.stack.Addr("security"), time.Now().Format(time.RFC1123Z), m.Header.Get("Message-ID"))))
	g.send(reply)
	g.stack.WaitMessages(t, "security", "Processed", 2, 60*time.Second)
	var class string
	var caseID int64
	g.db.Reader().QueryRow(`SELECT class, case_id FROM inbound WHERE message_id = 'followup-1@outside.example'`).Scan(&class, &caseID)
	if class != ClassFollowUp || caseID == 0 {
		t.Fatalf("reply ended %q in case %d", class, caseID)
	}
	msgs, err := g.workflow.Messages(g.ctx, caseID)
	if err != nil || len(msgs) != 2 || !strings.Contains(msgs[1].Text, "32-bit") {
		t.Errorf("case messages: %d %v", len(msgs), err)
	}
	for user, gp := range g.members {
		copies := g.stack.WaitMessages(t, user, "INBOX", 2, 60*time.Second)
		found := false
		for _, raw := range copies {
			found = found || strings.Contains(string(openMail(t, gp, raw, g.team.Fingerprint())), "32-bit builds")
		}
		if !found {
			t.Errorf("%s got no copy of the follow-up", user)
		}
	}
}

// TestRealStackDistributorAck: a distributor on the embargo list answers
// about a case with a mail signed by their key; it is recorded in the case
// with the signature checked against their key, and every member gets a
// copy (gpg decrypts it) saying their own key signed it.
func TestRealStackDistributorAck(t *testing.T) {
	if testing.Short() {
		t.Skip("real mail stack")
	}
	g := startGateway(t)
	dgp := gpgtest.New(t)
	daddr := "psirt@vendor.example"
	dfpr := dgp.GenKey("Vendor PSIRT <"+daddr+">", "ed25519")
	err := g.db.Tx(g.ctx, func(tx *sql.Tx) error {
		if err := g.dir.CreateList(g.ctx, tx, "embargo", distlist.KindEmbargo, ""); err != nil {
			return err
		}
		_, err := g.dir.AddRecipient(g.ctx, tx, "embargo", distlist.RecipientSpec{Name: "Vendor", Address: daddr, Key: dgp.Export(dfpr)})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(g.ctx)
	done := g.runPoller(ctx, nil)
	defer func() { cancel(); <-done }()
	g.send(g.inlineReport(1, "INLINE: report"))
	g.stack.WaitMessages(t, "security", "Processed", 1, 60*time.Second)
	list, err := g.workflow.List(g.ctx, cases.ListOptions{})
	if err != nil || len(list) != 1 {
		t.Fatalf("cases %d %v", len(list), err)
	}
	signed := []byte("Content-Type: text/plain; charset=utf-8\r\n\r\nAcknowledged; we will patch under embargo.\r\n")
	sig := dgp.Sign(signed, dfpr, gpgtest.Detached)
	raw := gpgtest.CRLF([]byte(fmt.Sprintf("From: Vendor PSIRT <%s>\nTo: %s\nSubject: Re: [%s] embargo\nDate: %s\nMessage-ID: <dack-1@vendor.example>\nMIME-Version: 1.0\n"+
		"Content-Type: multipart/signed; micalg=pgp-sha512; protocol=\"application/pgp-signature\"; boundary=\"sig\"\n\n"+
		"--sig\n%s\n--sig\nContent-Type: application/pgp-signature\n\n%s\n--sig--\n",
		daddr, g.stack.Addr("security"), list[0].Ref, time.Now().Format(time.RFC1123Z), signed, sig)))
	g.stack.Send(t, daddr, []string{g.stack.Addr("security")}, raw)
	g.stack.WaitMessages(t, "security", "Processed", 2, 60*time.Second)
	var class, reason string
	var caseID int64
	g.db.Reader().QueryRow(`SELECT class, reason, case_id FROM inbound WHERE message_id = 'dack-1@vendor.example'`).Scan(&class, &reason, &caseID)
	if class != ClassDistributorAck || caseID != list[0].ID || !strings.Contains(reason, "signed by their key "+dfpr) {
		t.Errorf("distributor mail ended %q %q in case %d", class, reason, caseID)
	}
	msgs, err := g.workflow.Messages(g.ctx, caseID)
	if err != nil || len(msgs) != 2 || msgs[1].Kind != cases.KindDistributor || !strings.Contains(msgs[1].Text, "patch under embargo") {
		t.Errorf("case messages: %d %v %+v", len(msgs), err, msgs)
	}
	for user, gp := range g.members {
		copies := g.stack.WaitMessages(t, user, "INBOX", 2, 60*time.Second)
		found := false
		for _, raw := range copies {
			text := string(openMail(t, gp, raw, g.team.Fingerprint()))
			found = found || strings.Contains(text, "patch under embargo") && strings.Contains(text, "Distributor: signed by their own key") &&
				strings.Contains(text, "Signature:  verified, key "+dfpr)
		}
		if !found {
			t.Errorf("%s got no copy of the distributor's reply", user)
		}
	}
}

// command sends a team member's command mail about case ref, signed with
// the member's gpg as a client with header protection makes it (the team
// address in the signed To, the case tag in the signed Subject), through
// Postfix.
func (g *gateway) command(t *testing.T, member, id, inReplyTo, ref, body string) {
	t.Helper()
	g.submit(member, g.memberMail(member, g.bound(signedMail{id: id, inReplyTo: inReplyTo, body: body}, ref)))
}

// TestRealStackCaseToFixCommitted drives one case from new to fix-committed
// with gpg-signed command mail from two members through Postfix and Dovecot,
// each mail answered encrypted to its sender.
func TestRealStackCaseToFixCommitted(t *testing.T) {
	if testing.Short() {
		t.Skip("real mail stack")
	}
	g := startGateway(t)
	ctx, cancel := context.WithCancel(g.ctx)
	done := g.runPoller(ctx, nil)
	defer func() { cancel(); <-done }()
	g.send(g.inlineReport(1, "INLINE: a report to fix"))
	copies := g.stack.WaitMessages(t, "alice", "INBOX", 1, 60*time.Second)
	m, err := mail.ReadMessage(bytes.NewReader(copies[0]))
	if err != nil {
		t.Fatal(err)
	}
	thread := m.Header.Get("Message-ID")
	steps := []struct {
		member, body string
		want         cases.State
	}{
		{"alice", "/status confirmed\n/class B1\n/cvss CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:N", cases.StateConfirmed},
		{"bob", "/cve CVE-2026-40001\n/affected < 2.0.1\n/fixed 2.0.1\n/impact Remote attackers can read any file.\n\n/status triaged", cases.StateTriaged},
		{"alice", "/status cve-requested", cases.StateCVERequested},
		{"bob", "/status fix-committed", cases.StateFixCommitted},
	}
	for i, st := range steps {
		g.command(t, st.member, fmt.Sprintf("step-%d", i), thread, g.cases()[0].Ref, st.body)
		g.stack.WaitMessages(t, "security", "Processed", i+2, 60*time.Second)
		list, err := g.workflow.List(g.ctx, cases.ListOptions{})
		if err != nil || len(list) != 1 {
			t.Fatalf("cases %d %v", len(list), err)
		}
		if list[0].State != st.want {
			log, _ := g.workflow.AuditLog(g.ctx, list[0].ID)
			t.Fatalf("step %d (%s): state %s, want %s; audit: %+v", i, st.body, list[0].State, st.want, log)
		}
	}
	c, err := g.workflow.List(g.ctx, cases.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	full, err := g.workflow.Get(g.ctx, c[0].Ref)
	if err != nil {
		t.Fatal(err)
	}
	if full.CVE != "CVE-2026-40001" || full.Class != "B1" || full.CVSSScore < 9 || full.Fixed != "2.0.1" {
		t.Errorf("fields after the commands: %+v", full)
	}
	if err := g.workflow.VerifyAudit(g.ctx, full.ID); err != nil {
		t.Errorf("audit chain: %v", err)
	}
	// Every command mail was answered, encrypted to its sender: alice got a
	// team copy and two answers, bob a team copy and two answers.
	for _, member := range []string{"alice", "bob"} {
		got := g.stack.WaitMessages(t, member, "INBOX", 3, 60*time.Second)
		for _, raw := range got {
			if !bytes.Contains(raw, []byte("multipart/encrypted")) {
				t.Errorf("%s received a message that is not encrypted", member)
			}
		}
	}
}
