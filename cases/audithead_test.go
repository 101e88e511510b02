package cases

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/secgate/secgate/crypto"
	"github.com/secgate/secgate/internal/gpgtest"
)

// auditFixture is a log of two cases and the gateway log, their events
// interleaved: 13 events in all, each with its signed head.
type auditFixture struct {
	*env
	c1, c2 *Case
}

func newAuditFixture(t *testing.T) *auditFixture {
	t.Helper()
	f := &auditFixture{env: newEnv(t)}
	f.c1 = f.open(false) // event 1
	f.c2 = f.open(false) // event 2
	for i := range 5 {
		f.event(f.c1.ID, fmt.Sprintf("c1 event %d", i)) // c1 #2..#6
		f.event(GatewayLog, fmt.Sprintf("gw event %d", i))
		if i%2 == 0 {
			f.event(f.c2.ID, fmt.Sprintf("c2 event %d", i)) // c2 #2..#4
		}
	}
	if n := f.count(`SELECT count(*) FROM case_audit`); n != 15 {
		t.Fatalf("fixture has %d events", n)
	}
	return f
}

// event appends one event to caseID's log as the gateway does.
func (f *auditFixture) event(caseID int64, detail string) {
	f.t.Helper()
	f.clock.Advance(time.Minute)
	if err := f.db.Tx(f.ctx, func(tx *sql.Tx) error {
		return f.wf.Audit(f.ctx, tx, caseID, ActorGateway, "test", detail, "")
	}); err != nil {
		f.t.Fatal(err)
	}
}

func (f *auditFixture) verify(held ...Head) *AuditCheck {
	f.t.Helper()
	c, err := f.wf.VerifyAuditLog(f.ctx, f.team.Public(), held...)
	if err != nil {
		f.t.Fatal(err)
	}
	return c
}

func (f *auditFixture) head() Head {
	f.t.Helper()
	h, ok, err := f.wf.AuditHead(f.ctx)
	if err != nil || !ok {
		f.t.Fatalf("no audit head: %v", err)
	}
	return h
}

// attacker has write access to the database file and knows how events
// and heads are hashed; it does not have the team key.
type attacker struct {
	t  testing.TB
	db *sql.DB
}

func (f *auditFixture) attacker() attacker { return attacker{f.t, f.db.Writer()} }

func (a attacker) exec(q string, args ...any) {
	a.t.Helper()
	if _, err := a.db.Exec(q, args...); err != nil {
		a.t.Fatalf("%s: %v", q, err)
	}
}

func (a attacker) dropTriggers() {
	for _, tr := range []string{"case_audit_no_update", "case_audit_no_delete", "audit_head_no_update", "audit_head_no_delete"} {
		a.exec(`DROP TRIGGER IF EXISTS ` + tr)
	}
}

// rehash recomputes the links and hashes of caseID's events from seq on,
// so that the chain holds again.
func (a attacker) rehash(caseID, from int64) {
	a.t.Helper()
	evs, err := auditLog(context.Background(), a.db, caseID)
	if err != nil {
		a.t.Fatal(err)
	}
	prev := genesis
	for _, e := range evs {
		if e.Seq >= from {
			e.PrevHash = prev
			e.Hash = hashEvent(e)
			a.exec(`UPDATE case_audit SET prev_hash = ?, hash = ? WHERE case_id = ? AND seq = ?`, e.PrevHash, e.Hash, caseID, e.Seq)
		}
		prev = e.Hash
	}
}

// forge rewrites the detail of one event and re-hashes every later event
// of its case.
func (a attacker) forge(caseID, seq int64, detail string) {
	a.dropTriggers()
	a.exec(`UPDATE case_audit SET detail = ? WHERE case_id = ? AND seq = ?`, detail, caseID, seq)
	a.rehash(caseID, seq)
}

// signHead replaces every stored head by one over the whole log as it is,
// signed by key.
func (a attacker) signHead(key *crypto.Key, at time.Time) {
	a.t.Helper()
	a.dropTriggers()
	l, err := readLog(context.Background(), a.db)
	if err != nil {
		a.t.Fatal(err)
	}
	h := Head{Events: int64(len(l.events)), Hash: genesis, At: at}
	for _, e := range l.events {
		h.Hash = foldHead(h.Hash, e.Hash)
	}
	if h.Signature, err = key.SignDetached([]byte(h.Text()), at); err != nil {
		a.t.Fatal(err)
	}
	a.exec(`DELETE FROM audit_head`)
	a.exec(`INSERT INTO audit_head (events, hash, at, signature) VALUES (?, ?, ?, ?)`, h.Events, h.Hash, at.UnixMilli(), h.Signature)
}

func TestAuditHeadAtEveryEvent(t *testing.T) {
	f := newAuditFixture(t)
	if n := f.count(`SELECT count(*) FROM audit_head`); n != 15 {
		t.Errorf("%d heads stored for 15 events, want one per event", n)
	}
	c := f.verify()
	if err := c.Err(); err != nil {
		t.Fatal(err)
	}
	if c.Events != 15 || c.Unsigned != 0 || c.Head == nil || c.Head.Events != 15 || len(c.Chains) != 3 {
		t.Fatalf("check = %+v", c)
	}
	for i, want := range []struct {
		id     int64
		ref    string
		events int
	}{{GatewayLog, "", 5}, {f.c1.ID, f.c1.Ref, 6}, {f.c2.ID, f.c2.Ref, 4}} {
		if ch := c.Chains[i]; ch.CaseID != want.id || ch.Ref != want.ref || ch.Events != want.events || ch.Err != nil {
			t.Errorf("chain %d = %+v, want %+v", i, ch, want)
		}
	}
	if got := c.Chain(f.c1.ID); got.Events != 6 {
		t.Errorf("Chain(c1) = %+v", got)
	}
	h := f.head()
	if !h.At.Equal(f.clock.Now().Truncate(time.Millisecond)) {
		t.Errorf("head at %v, want the last event's time %v", h.At, f.clock.Now())
	}
	// A member checks the head with gpg and the team's public key alone,
	// over the text saved with LF or CRLF line ends.
	g := gpgtest.New(t)
	g.Import([]byte(armorPub(t, f.team)))
	for _, text := range []string{h.Text(), strings.ReplaceAll(h.Text(), "\n", "\r\n")} {
		if r := g.Verify([]byte(text), []byte(h.Signature)); !r.Has("VALIDSIG", f.team.Fingerprint()) {
			t.Errorf("gpg --verify: %v\n%s", r.Err, r.Stderr)
		}
	}
	if r := g.Verify([]byte(strings.Replace(h.Text(), "events: 15", "events: 14", 1)), []byte(h.Signature)); r.Has("VALIDSIG") {
		t.Error("gpg accepts the signature over another count")
	}
}

// TestAuditTampering plays an attacker with write access to the database
// file. Each case names the check that catches it; chainOK says the
// case's chain alone still verifies, so that only the signed head shows
// the change.
func TestAuditTampering(t *testing.T) {
	other := testKey(t, "mallory@example.net", 0)
	for _, tc := range []struct {
		name    string
		tamper  func(f *auditFixture, a attacker)
		held    bool // check against the head a member saved before the tampering
		chainOK bool // VerifyAudit of c1 still passes
		want    error
		msg     string
	}{
		{
			name: "hash: a detail edited",
			tamper: func(f *auditFixture, a attacker) {
				a.dropTriggers()
				a.exec(`UPDATE case_audit SET detail = 'forged' WHERE case_id = ? AND seq = 3`, f.c1.ID)
			},
			want: ErrAuditBroken, msg: "event 3 was altered",
		},
		{
			name: "link: an event re-hashed alone",
			tamper: func(f *auditFixture, a attacker) {
				a.dropTriggers()
				evs, _ := auditLog(f.ctx, a.db, f.c1.ID)
				e := evs[2]
				e.Detail = "forged"
				e.Hash = hashEvent(e)
				a.exec(`UPDATE case_audit SET detail = ?, hash = ? WHERE case_id = ? AND seq = 3`, e.Detail, e.Hash, f.c1.ID)
			},
			want: ErrAuditBroken, msg: "event 4 does not follow event 3",
		},
		{
			name: "sequence: an event removed, the rest re-linked",
			tamper: func(f *auditFixture, a attacker) {
				a.dropTriggers()
				a.exec(`DELETE FROM case_audit WHERE case_id = ? AND seq = 3`, f.c1.ID)
				a.rehash(f.c1.ID, 4)
			},
			want: ErrAuditBroken, msg: "has sequence number 4",
		},
		{
			name:    "head: an event forged, every later one re-hashed",
			tamper:  func(f *auditFixture, a attacker) { a.forge(f.c1.ID, 3, "forged") },
			chainOK: true, want: ErrAuditBroken, msg: "do not hash to the newest signed head of 2026-11-20T10:13:00Z (15 events): " +
				"an event was changed, removed or inserted; the stored heads first disagree at event 6 (SEC-2026-0001 #3)",
		},
		{
			name: "head: an event removed, the rest renumbered and re-hashed",
			tamper: func(f *auditFixture, a attacker) {
				a.dropTriggers()
				a.exec(`DELETE FROM case_audit WHERE case_id = ? AND seq = 3`, f.c1.ID)
				a.exec(`UPDATE case_audit SET seq = seq - 1 WHERE case_id = ? AND seq > 3`, f.c1.ID)
				a.rehash(f.c1.ID, 3)
			},
			chainOK: true, want: ErrAuditBroken, msg: "covers more events than the log holds (14)",
		},
		{
			name: "head: an event removed, the rest renumbered and re-hashed, the newest head dropped",
			tamper: func(f *auditFixture, a attacker) {
				a.dropTriggers()
				a.exec(`DELETE FROM case_audit WHERE case_id = ? AND seq = 3`, f.c1.ID)
				a.exec(`UPDATE case_audit SET seq = seq - 1 WHERE case_id = ? AND seq > 3`, f.c1.ID)
				a.rehash(f.c1.ID, 3)
				a.exec(`DELETE FROM audit_head WHERE events = 15`)
			},
			chainOK: true, want: ErrAuditBroken, msg: "do not hash to the newest signed head",
		},
		{
			name: "head count: the tail cut",
			tamper: func(f *auditFixture, a attacker) {
				a.dropTriggers()
				a.exec(`DELETE FROM case_audit WHERE id > 12`)
			},
			chainOK: true, want: ErrAuditBroken, msg: "covers more events than the log holds (12)",
		},
		{
			name: "head signature: forged and signed again with another key",
			tamper: func(f *auditFixture, a attacker) {
				a.forge(f.c1.ID, 3, "forged")
				a.signHead(other, f.clock.Now())
			},
			chainOK: true, want: ErrAuditBroken, msg: "is not signed by the team key",
		},
		{
			name: "head signature: the head of a forged log with the old signature",
			tamper: func(f *auditFixture, a attacker) {
				sig := f.head().Signature
				a.forge(f.c1.ID, 3, "forged")
				a.signHead(other, f.clock.Now())
				a.exec(`UPDATE audit_head SET signature = ?`, sig)
			},
			chainOK: true, want: ErrAuditBroken, msg: "is not signed by the team key",
		},
		{
			name: "unsigned: an event appended",
			tamper: func(f *auditFixture, a attacker) {
				evs, _ := auditLog(f.ctx, a.db, f.c1.ID)
				e := AuditEvent{CaseID: f.c1.ID, Seq: 7, At: f.clock.Now(), Actor: ActorGateway, Action: "status", Detail: "forged", PrevHash: evs[5].Hash}
				e.Hash = hashEvent(e)
				a.exec(`INSERT INTO case_audit (case_id, seq, at, actor, action, detail, source, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, '', ?, ?)`,
					e.CaseID, e.Seq, e.At.UnixMilli(), e.Actor, e.Action, e.Detail, e.PrevHash, e.Hash)
			},
			chainOK: true, want: ErrAuditUnsigned, msg: "the last of the 16 events comes after the newest signed head",
		},
		{
			name: "held head: the tail cut with the heads that cover it",
			tamper: func(f *auditFixture, a attacker) {
				a.dropTriggers()
				a.exec(`DELETE FROM case_audit WHERE id > 12`)
				a.exec(`DELETE FROM audit_head WHERE events > 12`)
			},
			held: true, chainOK: true, want: ErrAuditBroken, msg: "the held head of",
		},
		{
			name: "held head: a rewrite signed by audit sign after every head was deleted",
			tamper: func(f *auditFixture, a attacker) {
				a.forge(f.c1.ID, 3, "forged")
				a.exec(`DELETE FROM audit_head`)
				// The gateway does not sign over events it cannot vouch
				// for; an operator who runs audit sign takes them on trust.
				if _, trusted, err := f.wf.SignAuditHead(f.ctx); err != nil || trusted != 15 {
					f.t.Fatalf("SignAuditHead = %d, %v", trusted, err)
				}
			},
			held: true, chainOK: true, want: ErrAuditBroken, msg: "do not hash to the held head",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newAuditFixture(t)
			saved := f.head()
			if err := f.verify(saved).Err(); err != nil {
				t.Fatalf("before: %v", err)
			}
			tc.tamper(f, f.attacker())
			err := f.wf.VerifyAudit(f.ctx, f.c1.ID)
			if tc.chainOK != (err == nil) {
				t.Errorf("VerifyAudit(c1) = %v, want chain ok %v", err, tc.chainOK)
			}
			var held []Head
			if tc.held {
				held = append(held, saved)
			}
			err = f.verify(held...).Err()
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("VerifyAuditLog = %v, want %v naming %q", err, tc.want, tc.msg)
			}
			if tc.held {
				// What only a member's head shows: the database alone
				// verifies.
				if err := f.verify().Err(); err != nil {
					t.Errorf("without the held head = %v", err)
				}
			}
		})
	}
}

// TestAuditHeadNotLaundered: after a rewrite, the gateway goes on signing
// heads; none of them makes the rewritten log verify.
func TestAuditHeadNotLaundered(t *testing.T) {
	for _, tc := range []struct {
		name   string
		tamper func(f *auditFixture, a attacker)
		want   string
	}{
		{"rewrite", func(f *auditFixture, a attacker) { a.forge(f.c1.ID, 3, "forged") }, "do not hash to the newest signed head"},
		{"rewrite and a head of the attacker's", func(f *auditFixture, a attacker) {
			a.forge(f.c1.ID, 3, "forged")
			a.signHead(testKey(t, "mallory@example.net", 0), f.clock.Now())
		}, "is not signed by the team key"},
		{"rewrite and every head deleted", func(f *auditFixture, a attacker) {
			a.forge(f.c1.ID, 3, "forged")
			a.exec(`DELETE FROM audit_head`)
		}, "no signed head"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newAuditFixture(t)
			tc.tamper(f, f.attacker())
			heads := f.count(`SELECT count(*) FROM audit_head`)
			f.event(f.c2.ID, "after the rewrite")
			f.event(f.c1.ID, "after the rewrite")
			err := f.verify().Err()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("VerifyAuditLog = %v, want %q", err, tc.want)
			}
			if tc.name != "rewrite" {
				if n := f.count(`SELECT count(*) FROM audit_head`); n != heads {
					t.Errorf("the gateway signed %d heads over a log it cannot vouch for", n-heads)
				}
			}
		})
	}
}

// TestAuditHeadRollback: a transaction that fails leaves no
// head behind, and the next event extends the last committed one.
func TestAuditHeadRollback(t *testing.T) {
	f := newAuditFixture(t)
	boom := errors.New("boom")
	if err := f.db.Tx(f.ctx, func(tx *sql.Tx) error {
		if err := f.wf.Audit(f.ctx, tx, f.c1.ID, ActorGateway, "test", "rolled back", ""); err != nil {
			return err
		}
		return boom
	}); !errors.Is(err, boom) {
		t.Fatal(err)
	}
	f.event(f.c1.ID, "kept")
	if c := f.verify(); c.Err() != nil || c.Head.Events != 16 {
		t.Fatalf("check = %v, head %+v", c.Err(), c.Head)
	}
}

// TestAuditSignLegacy: events written before signed heads existed (here by
// a workflow without the team key) are covered by none; the gateway does
// not sign over them by itself, and SignAuditHead takes them on trust.
func TestAuditSignLegacy(t *testing.T) {
	e := newEnv(t)
	e.wf.heads.key = nil
	c := e.open(false)
	f := &auditFixture{env: e, c1: c}
	f.event(c.ID, "old")
	ch := f.verify()
	if ch.Head != nil || ch.Unsigned != 2 || !errors.Is(ch.Err(), ErrAuditUnsigned) || !strings.Contains(ch.Err().Error(), "no signed head") {
		t.Fatalf("legacy log: head %v, unsigned %d, err %v", ch.Head, ch.Unsigned, ch.Err())
	}
	e.wf.heads.key = e.team // the upgraded gateway
	f.event(c.ID, "new")
	if n := f.count(`SELECT count(*) FROM audit_head`); n != 0 {
		t.Fatalf("the gateway signed %d heads over events it did not hash", n)
	}
	h, trusted, err := e.wf.SignAuditHead(e.ctx)
	if err != nil || trusted != 3 || h.Events != 3 {
		t.Fatalf("SignAuditHead = %+v, %d, %v", h, trusted, err)
	}
	f.event(c.ID, "newer")
	if ch := f.verify(); ch.Err() != nil || ch.Head.Events != 4 {
		t.Fatalf("after SignAuditHead: %v, head %+v", ch.Err(), ch.Head)
	}
	if _, trusted, err := e.wf.SignAuditHead(e.ctx); err != nil || trusted != 0 {
		t.Errorf("SignAuditHead on a signed log = %d, %v", trusted, err)
	}
	// It signs nothing over a log whose chains or newest head do not
	// verify.
	a := f.attacker()
	a.forge(c.ID, 2, "forged")
	if _, _, err := e.wf.SignAuditHead(e.ctx); !errors.Is(err, ErrAuditBroken) || !strings.Contains(err.Error(), "do not hash") {
		t.Errorf("SignAuditHead over a rewritten log = %v", err)
	}
	a.exec(`UPDATE case_audit SET detail = 'edited' WHERE case_id = ? AND seq = 3`, c.ID)
	a.exec(`DELETE FROM audit_head`)
	if _, _, err := e.wf.SignAuditHead(e.ctx); !errors.Is(err, ErrAuditBroken) || !strings.Contains(err.Error(), "was altered") {
		t.Errorf("SignAuditHead over a broken chain = %v", err)
	}
}

func TestParseHead(t *testing.T) {
	f := newAuditFixture(t)
	h := f.head()
	signed := h.Signed()
	for _, tc := range []struct {
		name, text, err string
	}{
		{"as signed", signed, ""},
		{"CRLF", strings.ReplaceAll(signed, "\n", "\r\n"), ""},
		{"in the report mail", "Key report of 2026-11-20\n\nAudit head: keep this mail.\n\n  " +
			strings.ReplaceAll(signed, "\n", "  \n") + "\n-- \nsecgate\n", ""},
		{"no head", "hello\n", "no line"},
		{"two heads", signed + signed, "2 heads"},
		{"no signature", h.Text(), "no complete armored signature"},
		{"cut signature", signed[:len(signed)-30], "no complete armored signature"},
		{"missing field", strings.Replace(signed, "events: 15\n", "", 1), "want the fields"},
		{"bad count", strings.Replace(signed, "events: 15", "events: -1", 1), "events"},
		{"bad hash", strings.Replace(signed, "hash: ", "hash: x", 1), "hash"},
		{"upper-case hash", strings.Replace(signed, h.Hash, strings.ToUpper(h.Hash), 1), "hash"},
		{"unknown field", strings.Replace(signed, "time:", "note: x\ntime:", 1), "unknown field"},
		{"field twice", strings.Replace(signed, "time:", "events: 16\ntime:", 1), "field events given twice"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseHead([]byte(tc.text))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("ParseHead = %+v, %v; want error %q", got, err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Events != h.Events || got.Hash != h.Hash || !got.At.Equal(h.At.Truncate(time.Second)) {
				t.Fatalf("ParseHead = %+v, want %+v", got, h)
			}
			if err := got.Verify(f.team.Public()); err != nil {
				t.Fatalf("parsed head does not verify: %v", err)
			}
			if c := f.verify(got); c.Err() != nil || len(c.Held) != 1 || c.Held[0].Err != nil {
				t.Fatalf("held head: %v", c.Err())
			}
		})
	}
	// A head whose text was changed after signing does not verify.
	bad, err := ParseHead([]byte(strings.Replace(signed, "events: 15", "events: 14", 1)))
	if err != nil {
		t.Fatal(err)
	}
	if err := bad.Verify(f.team.Public()); !errors.Is(err, crypto.ErrBadSignature) {
		t.Errorf("changed head verifies: %v", err)
	}
	// An older head a member kept still verifies after the log grew.
	f.event(f.c2.ID, "later")
	if c := f.verify(h); c.Err() != nil {
		t.Errorf("older held head: %v", c.Err())
	}
}

// BenchmarkAuditEvent measures one audit event written in its own
// transaction: unsigned (a workflow without the team key) and with its
// head signed by team keys of each kind.
func BenchmarkAuditEvent(b *testing.B) {
	for _, tc := range []struct{ name, algo string }{{"unsigned", ""}, {"x25519", "x25519"}, {"rsa3072", "rsa"}, {"rsa4096", "rsa4096"}} {
		b.Run(tc.name, func(b *testing.B) {
			e := newEnv(b)
			switch tc.algo {
			case "":
				e.wf.heads.key = nil
			case "x25519":
			default:
				bits := 3072
				if tc.algo == "rsa4096" {
					bits = 4096
				}
				k, err := crypto.GenerateKey("Team", teamAddr, crypto.GenerateOptions{Algorithm: "rsa", Bits: bits, Created: t0.Add(-time.Hour)})
				if err != nil {
					b.Fatal(err)
				}
				e.wf.heads.key = k
			}
			c := e.open(false)
			b.ResetTimer()
			for range b.N {
				if err := e.db.Tx(e.ctx, func(tx *sql.Tx) error {
					return e.wf.Audit(e.ctx, tx, c.ID, ActorGateway, "bench", "an event", "")
				}); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			if tc.algo != "" {
				if n, events := e.count(`SELECT count(*) FROM audit_head`), e.count(`SELECT count(*) FROM case_audit`); n != events {
					b.Fatalf("%d heads for %d events", n, events)
				}
			}
		})
	}
}

// BenchmarkCommandMail measures a whole signed and encrypted command mail
// of three commands (three audit events) with and without signed heads
// (x25519 team key): what a head costs per mail.
func BenchmarkCommandMail(b *testing.B) {
	for _, signed := range []bool{false, true} {
		name := "unsigned"
		if signed {
			name = "signed"
		}
		b.Run(name, func(b *testing.B) {
			e := newEnv(b)
			if !signed {
				e.wf.heads.key = nil
			}
			c := e.open(false)
			alice := e.keys["alice@example.org"]
			b.ResetTimer()
			for i := range b.N {
				b.StopTimer()
				m := e.signed("alice@example.org", alice, "["+c.Ref+"]",
					fmt.Sprintf("/affected < 1.%d\n/fixed 1.%d\n/component frob%d\n", i, i, i), t0)
				before := e.count(`SELECT count(*) FROM case_audit`)
				b.StartTimer()
				e.handle(m)
				b.StopTimer()
				if n := e.count(`SELECT count(*) FROM case_audit`) - before; n != 3 {
					b.Fatalf("%d events, want 3: %q", n, e.audit(c.ID))
				}
				b.StartTimer()
			}
		})
	}
}
