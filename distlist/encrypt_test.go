package distlist

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/secgate/secgate/distlist/smtpsink"
)

// kindRules are the kinds of mail the gateway sends (schedule/send.go,
// cases/mail.go, intake) and whether each may leave in clear: only what is
// public anyway, and what is written for someone without a key.
var kindRules = []struct {
	kind   string
	caseID int64
	clear  bool
}{
	{"embargo-notice", 7, false}, // also the change, withdrawn and broken notices
	{"prerelease-notice", 7, false},
	{"team-copy", 7, false},
	{"team-note", 7, false},
	{"answer", 7, false}, // to a member's command mail in a case
	{"alert", 7, false},
	{"alert", 0, false},
	{"handoff", 7, false},
	{"reminder", 7, false},
	{"a-kind-not-known-yet", 7, false},
	{"announcement", 7, true},
	{"pre-announcement", 7, true},
	{"ack", 7, true},           // to a reporter without a usable key
	{"reporter", 7, true},      // to a reporter without a key on file
	{"answer", 0, false},       // to a member's command mail outside a case (/help, /list)
	{"sender-notice", 0, true}, // intake's uniform answer to someone outside the team
}

// tamperClear rewrites the queued row of notice to addr as a bug, a hand
// edit or a restored backup would: clear, signed bytes with the real
// Subject, and the row's columns changed by sql to match.
func (e *env) tamperClear(notice, addr, sql string) {
	e.t.Helper()
	signed, err := e.team.Sign(textContent("[SEC-2026-0007] heap overflow in the parser", "embargoed body"), t0)
	if err != nil {
		e.t.Fatal(err)
	}
	ent, err := signed.Entity()
	if err != nil {
		e.t.Fatal(err)
	}
	clear, err := compose(outer{From: "security@example.org", To: addr, Subject: "[SEC-2026-0007] heap overflow in the parser",
		Date: t0, MessageID: notice + "@example.org"}, ent)
	if err != nil {
		e.t.Fatal(err)
	}
	if _, err := e.db.Writer().Exec(`UPDATE outbox_message SET raw = ? WHERE outbox_id = (SELECT id FROM outbox WHERE notice_id = ?)`, clear, notice); err != nil {
		e.t.Fatal(err)
	}
	if _, err := e.db.Writer().Exec(sql, notice); err != nil {
		e.t.Fatal(err)
	}
}

// tampers are the ways a row's columns are changed along with its bytes.
var tampers = []struct{ name, sql string }{
	{"flag", `UPDATE outbox SET encrypt = 0 WHERE notice_id = ?`},
	{"flag and key", `UPDATE outbox SET encrypt = 0, fingerprint = '', enc_key_id = 0 WHERE notice_id = ?`},
}

// checkRefused asserts that the row of notice to addr was refused by the
// guard, as a bug, and that nothing reached the server.
func (e *env) checkRefused(notice, addr string) {
	e.t.Helper()
	if n := e.sink.Len(); n != 0 {
		e.t.Fatalf("%d messages reached the server", n)
	}
	if r := e.rows(notice)[addr]; r.State != StateFailed || !strings.Contains(r.Reply, "guard") {
		e.t.Errorf("row %+v, want failed by the guard", r)
	}
	if ev := e.Events(); len(ev) != 1 || ev[0].Kind != EventGuard {
		e.t.Errorf("events %+v, want one %s", ev, EventGuard)
	}
}

// reset forgets what the sink and OnEvent saw.
func (e *env) reset() {
	e.sink.Reset()
	e.mu.Lock()
	e.events = nil
	e.mu.Unlock()
}

// TestGuardKnowsWhatMustBeEncrypted rewrites a queued row's bytes and its
// encrypt flag together: for every kind that carries embargoed or case
// content the guard refuses the clear bytes, the row fails as a bug and
// nothing reaches the server. Only the kinds that may be clear go out.
func TestGuardKnowsWhatMustBeEncrypted(t *testing.T) {
	const addr = "alice@distro-a.example"
	ka := testKey(t, addr, "x25519", false)
	e := newEnv(t, smtpsink.Options{}, nil)
	for _, tt := range kindRules {
		for _, tamper := range tampers {
			notice := fmt.Sprintf("%s-%d-%s", tt.kind, tt.caseID, strings.ReplaceAll(tamper.name, " ", "-"))
			t.Run(notice, func(t *testing.T) {
				e.t = t
				e.reset()
				e.enqueue(Mail{Kind: tt.kind, CaseID: tt.caseID, NoticeID: notice, Encrypt: true,
					Content: textContent("[SEC-2026-0007] heap overflow in the parser", "embargoed body"), Recipients: []Recipient{{Address: addr, Key: ka.Public()}}})
				e.tamperClear(notice, addr, tamper.sql)
				e.drain()
				if !tt.clear {
					e.checkRefused(notice, addr)
				} else if r := e.rows(notice)[addr]; r.State != StateSent || e.sink.Len() != 1 {
					t.Fatalf("a clear %s did not go out: %+v", tt.kind, r)
				}
			})
		}
	}
}

// TestGuardKnowsListKind: a row names its list, and the list's kind in the
// directory decides as the kind of mail does: an announcement queued for a
// public list that is encrypted, or for a team or embargo list, is refused
// in clear whatever its flag says, and so is one whose list is gone.
func TestGuardKnowsListKind(t *testing.T) {
	ctx := context.Background()
	const addr = "alice@distro-a.example"
	ka := testKey(t, addr, "x25519", false)
	e := newEnv(t, smtpsink.Options{}, nil)
	for _, l := range []struct{ name, kind string }{{"embargo", KindEmbargo}, {"team", KindTeam}, {"announce-private", KindPublic}} {
		if err := e.dir.CreateList(ctx, nil, l.name, l.kind, SourceCLI); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.db.Writer().Exec(`UPDATE dir_list SET encrypt = 1 WHERE name = 'announce-private'`); err != nil {
		t.Fatal(err)
	}
	for _, list := range []string{"embargo", "team", "announce-private", "gone"} {
		for _, tamper := range tampers {
			notice := "announcement-" + list + "-" + strings.ReplaceAll(tamper.name, " ", "-")
			t.Run(notice, func(t *testing.T) {
				e.t = t
				e.reset()
				if list == "gone" {
					if err := e.dir.CreateList(ctx, nil, "gone", KindPublic, SourceCLI); err != nil {
						t.Fatal(err)
					}
				}
				e.enqueue(Mail{Kind: "announcement", CaseID: 7, NoticeID: notice, List: list, Encrypt: true,
					Content: textContent("[SEC-2026-0007] heap overflow in the parser", "embargoed body"), Recipients: []Recipient{{Address: addr, Key: ka.Public()}}})
				if list == "gone" {
					if _, err := e.db.Writer().Exec(`DELETE FROM dir_list WHERE name = 'gone'`); err != nil {
						t.Fatal(err)
					}
				}
				e.tamperClear(notice, addr, tamper.sql)
				e.drain()
				e.checkRefused(notice, addr)
			})
		}
	}
}

// TestEnqueueRefusesClear: mail that must be encrypted, by its kind or its
// list, is refused in clear when it is queued, whatever the caller asks.
func TestEnqueueRefusesClear(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, smtpsink.Options{}, nil)
	if err := e.dir.CreateList(ctx, nil, "embargo", KindEmbargo, SourceCLI); err != nil {
		t.Fatal(err)
	}
	if err := e.dir.CreateList(ctx, nil, "announce", KindPublic, SourceCLI); err != nil {
		t.Fatal(err)
	}
	queue := func(m Mail) error {
		m.Content, m.Recipients = textContent("s", "b"), []Recipient{{Address: "a@b.example"}}
		return e.db.Tx(ctx, func(tx *sql.Tx) error {
			_, err := e.ob.Enqueue(ctx, tx, m)
			return err
		})
	}
	for _, tt := range kindRules {
		err := queue(Mail{Kind: tt.kind, CaseID: tt.caseID, NoticeID: fmt.Sprintf("n-%s-%d", tt.kind, tt.caseID)})
		if tt.clear && err != nil || !tt.clear && !errors.Is(err, ErrMustEncrypt) {
			t.Errorf("%s of case %d in clear: err = %v, want ok=%v", tt.kind, tt.caseID, err, tt.clear)
		}
	}
	if err := queue(Mail{Kind: "announcement", NoticeID: "to-embargo", List: "embargo"}); !errors.Is(err, ErrMustEncrypt) {
		t.Errorf("announcement to the embargo list in clear: err = %v, want ErrMustEncrypt", err)
	}
	if err := queue(Mail{Kind: "announcement", NoticeID: "to-public", List: "announce"}); err != nil {
		t.Errorf("announcement to a public list: %v", err)
	}
	if err := queue(Mail{Kind: "announcement", NoticeID: "to-nowhere", List: "nowhere"}); !errors.Is(err, ErrNotFound) {
		t.Errorf("mail to a list that does not exist: err = %v, want ErrNotFound", err)
	}
}
