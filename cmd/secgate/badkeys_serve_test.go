package main

import (
	"bytes"
	"fmt"
	"mime"
	"net/mail"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/secgate/secgate/cases/casestest"
	"github.com/secgate/secgate/crypto"
	"github.com/secgate/secgate/internal/gpgtest"
	"github.com/secgate/secgate/internal/mailstack"
)

// gpgKeyWith makes a key in g for uid whose primary key never expires and
// whose encryption subkey expires after subExpire (gpg's syntax: "1d",
// "seconds=30", "never"), both made at created (zero: now), and returns its
// fingerprint.
func gpgKeyWith(t *testing.T, g *gpgtest.GPG, uid string, created time.Time, subExpire string) string {
	t.Helper()
	args := []string{"--passphrase", ""}
	if !created.IsZero() {
		args = append(args, "--faked-system-time", created.UTC().Format("20060102T150405"))
	}
	r := g.Run(nil, append(args, "--quick-gen-key", uid, "ed25519", "sign,cert", "never")...)
	a := r.Args("KEY_CREATED")
	if r.Err != nil || len(a) < 2 {
		t.Fatalf("gpg quick-gen-key: %v\n%s", r.Err, r.Stderr)
	}
	if r := g.Run(nil, append(args, "--quick-add-key", a[1], "cv25519", "encr", subExpire)...); r.Err != nil {
		t.Fatalf("gpg quick-add-key: %v\n%s", r.Err, r.Stderr)
	}
	return a[1]
}

// gpgRevoke imports the revocation certificate gpg made with the key fpr,
// as its holder does who lost it.
func gpgRevoke(t *testing.T, g *gpgtest.GPG, fpr string) {
	t.Helper()
	cert, err := os.ReadFile(filepath.Join(g.Home, "openpgp-revocs.d", fpr+".rev"))
	if err != nil {
		t.Fatal(err)
	}
	// gpg guards the certificate against an accidental import with a colon.
	g.Import(bytes.Replace(cert, []byte(":-----BEGIN PGP"), []byte("-----BEGIN PGP"), 1))
}

// gpgOpenMail decrypts a PGP/MIME message with g and returns the plaintext
// and gpg's result.
func gpgOpenMail(t *testing.T, g *gpgtest.GPG, raw []byte) *gpgtest.Result {
	t.Helper()
	m, err := mail.ReadMessage(bytes.NewReader(toCRLF(raw)))
	if err != nil {
		t.Fatal(err)
	}
	mt, params, err := mime.ParseMediaType(m.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/encrypted" {
		t.Fatalf("Content-Type %q (%v), want multipart/encrypted", m.Header.Get("Content-Type"), err)
	}
	body := new(bytes.Buffer)
	body.ReadFrom(m.Body)
	_, data := gpgtest.SplitTwo(t, body.Bytes(), params["boundary"])
	_, armored, _ := bytes.Cut(data, []byte("\r\n\r\n"))
	return g.Decrypt(armored)
}

// TestServeWithBadKeys runs secgate serve on the real stack with a
// distributor whose encryption subkey expired and a member who revoked
// their key. It starts (both are named in its log and by config check); a
// report encrypted by gpg opens a case and the other members get their
// copies, the lead hears that the revoked member got none; a member's
// signed command plans the disclosure and the embargo notice reaches the
// good distributors, who decrypt it with gpg, and not the expired one; the
// lead is told who was skipped; the key report names both keys. Then a
// distributor's key lapses while the gateway is down: the next start works
// and keeps taking reports and commands.
func TestServeWithBadKeys(t *testing.T) {
	if testing.Short() {
		t.Skip("real mail stack and two gateway starts")
	}
	tmp := t.TempDir()
	bin := buildSecgate(t, tmp)
	logs := filepath.Join(tmp, "logs")
	if err := os.Mkdir(logs, 0o755); err != nil {
		t.Fatal(err)
	}
	members := []string{"alice", "bob", "carol"}
	dists := []string{"dist1", "dist2", "dist3", "dist4"}
	stack := mailstack.Start(t, mailstack.Options{Users: append(append([]string{"security"}, members...), dists...)})
	e := newCrashEnv(t, stack, "", members, dists)
	teamPub, err := e.team.ArmorPublic()
	if err != nil {
		t.Fatal(err)
	}
	writeKey := func(name string, pub []byte) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(e.dir, "keys", name+".asc"), pub, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	gpgs := map[string]*gpgtest.GPG{}
	newGPG := func(name string) *gpgtest.GPG {
		g := gpgtest.New(t)
		g.Import([]byte(teamPub))
		gpgs[name] = g
		return g
	}
	for _, d := range []string{"dist1", "dist2"} {
		g := newGPG(d)
		writeKey(d, g.Export(g.GenKey("Distributor "+d+" <"+stack.Addr(d)+">", "ed25519")))
	}
	// dist3's encryption subkey ran out two days ago (its primary key, as
	// so often, never expires): "key has no usable encryption subkey".
	g3 := newGPG("dist3")
	writeKey("dist3", g3.Export(gpgKeyWith(t, g3, "Distributor dist3 <"+stack.Addr("dist3")+">", time.Now().Add(-72*time.Hour), "1d")))
	// carol revoked her key.
	gc := newGPG("carol")
	carolFpr := gc.GenKey("carol <"+stack.Addr("carol")+">", "ed25519")
	gpgRevoke(t, gc, carolFpr)
	writeKey("carol", gc.Export(carolFpr))
	// dist4's key is good at the first start and lapses before the second.
	g4 := newGPG("dist4")
	dist4Expires := time.Now().Add(30 * time.Second)
	writeKey("dist4", g4.Export(gpgKeyWith(t, g4, "Distributor dist4 <"+stack.Addr("dist4")+">", time.Time{}, "seconds=30")))

	alice, bob := e.members["alice"], e.members["bob"]
	opened := map[string]string{} // user and Message-ID -> text
	// mailWith waits until user's INBOX holds a mail that key opens to a
	// text with every one of want, and returns its Message-ID and text.
	mailWith := func(user string, key *crypto.Key, p *serveProc, want ...string) (string, string) {
		t.Helper()
		deadline := time.Now().Add(2 * time.Minute)
		for {
			for _, raw := range stack.Messages(t, user, "INBOX") {
				id := messageID(raw)
				text, ok := opened[user+" "+id]
				if !ok {
					text = openText(raw, key, e.team)
					opened[user+" "+id] = text
				}
				all := true
				for _, w := range want {
					all = all && strings.Contains(text, w)
				}
				if all {
					return id, text
				}
			}
			if p.exited() {
				t.Fatalf("the gateway exited: %v\n%s", p.err, p.tail(30))
			}
			if time.Now().After(deadline) {
				t.Fatalf("no mail to %s with %q\n%s", user, want, p.tail(30))
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	caseState := func(ref string) string {
		t.Helper()
		db, err := openRO(e.database)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		var state string
		db.QueryRow(`SELECT state FROM cases WHERE ref = ?`, ref).Scan(&state)
		return state
	}
	waitState := func(ref, want string, p *serveProc) {
		t.Helper()
		deadline := time.Now().Add(time.Minute)
		for caseState(ref) != want {
			if p.exited() || time.Now().After(deadline) {
				t.Fatalf("case %s is %q, want %s\n%s", ref, caseState(ref), want, p.tail(30))
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	directoryWarnings := func(p *serveProc) string {
		b, _ := os.ReadFile(p.log)
		var out []string
		for _, l := range strings.Split(string(b), "\n") {
			if strings.Contains(l, "msg=directory") {
				out = append(out, l)
			}
		}
		return strings.Join(out, "\n")
	}

	// First start.
	p1, err := startServe(bin, e.config, filepath.Join(logs, "first.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer p1.kill()
	if err := p1.waitServing(time.Minute); err != nil {
		t.Fatal(err)
	}
	if time.Now().After(dist4Expires) {
		t.Fatalf("the first start took longer than dist4's key lives")
	}
	warns := directoryWarnings(p1)
	for _, w := range []string{stack.Addr("dist3") + ": key ", "no usable encryption subkey", stack.Addr("carol") + ": key ", "key revoked"} {
		if !strings.Contains(warns, w) {
			t.Errorf("the start-up log does not say %q:\n%s", w, warns)
		}
	}
	if strings.Contains(warns, stack.Addr("dist4")) {
		t.Errorf("dist4's key is named unusable at the first start:\n%s", warns)
	}
	code, out, stderr := runCLI(t, nil, "config", "check", "-config", e.config)
	if code != 0 || strings.Count(out, "warning: ") != 2 || !strings.Contains(out, "member "+stack.Addr("carol")+": key "+carolFpr) ||
		!strings.Contains(out, "list embargo: "+stack.Addr("dist3")) {
		t.Errorf("config check: exit %d, stdout:\n%s\nstderr %q", code, out, stderr)
	}

	// A report encrypted by gpg opens a case; alice and bob get their copies.
	stack.Send(t, e.repAddr, []string{stack.Addr("security")}, e.report("bad-keys-1@outside.example", "CANARY-BADKEYS-ONE"))
	copyID, text := mailWith("alice", alice, p1, "CANARY-BADKEYS-ONE")
	ref := caseRefPattern.FindString(text)
	if ref == "" {
		t.Fatalf("alice's copy names no case:\n%s", text)
	}
	mailWith("bob", bob, p1, "CANARY-BADKEYS-ONE")
	// The lead (alice, first in the rota) hears that carol got nothing.
	mailWith("alice", alice, p1, ref, "NOT sent", stack.Addr("carol"), "revoked")

	// Alice's signed command plans the disclosure, forcing past the keys
	// that are not valid through T0.
	t0 := time.Now().Add(24 * 24 * time.Hour).UTC().Truncate(time.Minute)
	raw, _, err := casestest.CommandMail(alice, e.team, casestest.Options{
		From: "alice <" + stack.Addr("alice") + ">", To: stack.Addr("security"), Subject: "Re: [" + ref + "] report",
		Body: fmt.Sprintf("/status confirmed\n/impact\nRemote attackers can crash the token parser.\n\n/affected <= 1.4.0\n/fixed 1.4.1\n"+
			"/disclose %s force: dist3 was asked to renew its key\n", t0.Format("2006-01-02 15:04 MST")),
		InReplyTo: "<" + copyID + ">",
	})
	if err != nil {
		t.Fatal(err)
	}
	stack.Submit(t, "alice", stack.Addr("alice"), []string{stack.Addr("security")}, raw)
	// Planned from confirmed, the case is fix-committed once the embargo
	// notice is out.
	waitState(ref, "fix-committed", p1)

	// The embargo notice reaches dist1 and dist2, who decrypt it with gpg.
	for _, d := range []string{"dist1", "dist2"} {
		msgs := stack.WaitMessages(t, d, "INBOX", 1, time.Minute)
		if len(msgs) != 1 {
			t.Fatalf("%s: %d messages, want the embargo notice", d, len(msgs))
		}
		r := gpgOpenMail(t, gpgs[d], msgs[0])
		if r.Err != nil || !r.Has("DECRYPTION_OKAY") || !bytes.Contains(r.Stdout, []byte(ref)) {
			t.Errorf("%s: gpg --decrypt: %v, %s\n%.300s", d, r.Err, r.Stderr, r.Stdout)
		}
	}
	// The lead is told that dist3 and dist4 got nothing, and why.
	mailWith("alice", alice, p1, ref, stack.Addr("dist3"), stack.Addr("dist4"), "no usable encryption subkey")
	// The weekly key report (the first check of the week is at start)
	// names the revoked and the expired key.
	mailWith("bob", bob, p1, "Key report", stack.Addr("carol"), stack.Addr("dist3"))
	if err := p1.stop(30 * time.Second); err != nil {
		t.Fatalf("first gateway: %v\n%s", err, p1.tail(20))
	}

	// dist4's key lapses while the gateway is down; it starts all the same.
	time.Sleep(time.Until(dist4Expires.Add(time.Second)))
	p2, err := startServe(bin, e.config, filepath.Join(logs, "second.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer p2.kill()
	if err := p2.waitServing(time.Minute); err != nil {
		t.Fatal(err)
	}
	if warns := directoryWarnings(p2); !strings.Contains(warns, stack.Addr("dist4")+": key ") {
		t.Errorf("the second start does not name dist4's lapsed key:\n%s", warns)
	}
	stack.Send(t, e.repAddr, []string{stack.Addr("security")}, e.report("bad-keys-2@outside.example", "CANARY-BADKEYS-TWO"))
	_, text = mailWith("bob", bob, p2, "CANARY-BADKEYS-TWO")
	copy2, _ := mailWith("alice", alice, p2, "CANARY-BADKEYS-TWO")
	ref2 := caseRefPattern.FindString(text)
	if ref2 == "" || ref2 == ref {
		t.Fatalf("the second report's case is %q (the first was %s)", ref2, ref)
	}
	raw, _, err = casestest.CommandMail(bob, e.team, casestest.Options{
		From: "bob <" + stack.Addr("bob") + ">", To: stack.Addr("security"), Subject: "Re: [" + ref2 + "] report",
		Body: "/status confirmed\n", InReplyTo: "<" + copy2 + ">",
	})
	if err != nil {
		t.Fatal(err)
	}
	stack.Submit(t, "bob", stack.Addr("bob"), []string{stack.Addr("security")}, raw)
	waitState(ref2, "confirmed", p2)
	if err := p2.stop(30 * time.Second); err != nil {
		t.Fatalf("second gateway: %v\n%s", err, p2.tail(20))
	}

	for user, n := range map[string]int{"carol": 0, "dist3": 0, "dist4": 0, "dist1": 1, "dist2": 1} {
		if got := len(stack.Messages(t, user, "INBOX")); got != n {
			t.Errorf("%s got %d messages, want %d", user, got, n)
		}
	}
	logErrors(t, logs)
}
