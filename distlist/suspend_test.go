package distlist

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"testing"

	"github.com/secgate/secgate/distlist/smtpsink"
)

// TestSuspend: a suspended distributor gets no notice: the notices
// waiting for them are withdrawn, Enqueue skips them for any notice kind
// and any embargo list, and a row that names them when it is claimed (a
// row written around the checks) ends failed instead of going out. Mail
// that is no notice (a text to them about their own entry) still goes, and
// so does everything once they are reinstated.
func TestSuspend(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, smtpsink.Options{}, nil)
	d := testKey(t, "d@distro.example", "x25519", false)
	o := testKey(t, "o@other.example", "x25519", false)
	for _, l := range []string{"embargo", "embargo-b"} {
		if err := e.dir.CreateList(ctx, nil, l, KindEmbargo, ""); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.dir.AddRecipient(ctx, nil, "embargo", RecipientSpec{Address: "d@distro.example", Key: armorPub(t, d)}); err != nil {
		t.Fatal(err)
	}
	to := []Recipient{{Address: "d@distro.example", Key: d.Public()}, {Address: "o@other.example", Key: o.Public()}}
	notice := func(id, kind, list string) []Skipped {
		return e.enqueue(Mail{Kind: kind, NoticeID: id, List: list, Encrypt: true, Content: textContent("s", "b"), Recipients: to})
	}
	notice("waiting", "embargo-notice", "embargo")
	notice("waiting-other-kind", "announcement", "embargo-b")
	notice("own-entry", "applicant", "")

	if _, err := e.dir.Suspend(ctx, nil, "o@other.example", "not on a list", "FPR"); !errors.Is(err, ErrNotFound) {
		t.Errorf("suspend an address on no embargo list: %v", err)
	}
	n, err := e.dir.Suspend(ctx, nil, "D@distro.example", "leaked SEC-2026-0001", "FPR")
	if err != nil || n != 2 {
		t.Fatalf("suspend: %d rows withdrawn, %v; want 2", n, err)
	}
	if _, err := e.dir.Suspend(ctx, nil, "d@distro.example", "again", "FPR"); !errors.Is(err, ErrSuspended) {
		t.Errorf("suspend twice: %v", err)
	}
	for _, tc := range []struct{ id, kind, list string }{
		{"new-notice", "embargo-notice", "embargo"},
		{"new-prerelease", "prerelease-notice", ""},
		{"new-other-list", "announcement", "embargo-b"},
	} {
		sk := notice(tc.id, tc.kind, tc.list)
		if len(sk) != 1 || sk[0].Recipient.Address != "d@distro.example" || !strings.Contains(sk[0].Reason, "suspended: leaked SEC-2026-0001") {
			t.Errorf("%s: skipped %+v, want the suspended distributor", tc.id, sk)
		}
	}
	// A row written around Enqueue's check, as a restored backup would hold it.
	if err := e.db.Tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE outbox SET state = 'queued', last_reply = '', finished = 0 WHERE notice_id = 'waiting'`)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	e.drain()
	for id, want := range map[string]string{"waiting": "withdrawn: not sent, the distributor is suspended", "waiting-other-kind": "withdrawn: the distributor was suspended"} {
		if r := e.rows(id)["d@distro.example"]; r.State != StateFailed || !strings.HasPrefix(r.Reply, want) {
			t.Errorf("%s: %s %q, want failed %q", id, r.State, r.Reply, want)
		}
		if r := e.rows(id)["o@other.example"]; r.State != StateSent {
			t.Errorf("%s to the other distributor: %s %q", id, r.State, r.Reply)
		}
	}
	if r := e.rows("own-entry")["d@distro.example"]; r.State != StateSent {
		t.Errorf("a text about their own entry: %s %q, want sent", r.State, r.Reply)
	}
	sus, err := e.dir.Suspensions(ctx)
	if err != nil || len(sus) != 1 || sus[0].Reason != "leaked SEC-2026-0001" || !sus[0].Since.Equal(t0) {
		t.Errorf("suspensions %+v %v", sus, err)
	}

	if err := e.dir.Reinstate(ctx, nil, "d@distro.example"); err != nil {
		t.Fatal(err)
	}
	if err := e.dir.Reinstate(ctx, nil, "d@distro.example"); !errors.Is(err, ErrNotFound) {
		t.Errorf("reinstate twice: %v", err)
	}
	if sk := notice("after", "embargo-notice", "embargo"); len(sk) != 0 {
		t.Errorf("skipped after reinstatement: %+v", sk)
	}
}

// TestApplicationRules: only an embargo list takes applications; a list
// without criteria of its own asks for DefaultCriteria.
func TestApplicationRules(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, smtpsink.Options{}, nil)
	e.dir.CreateList(ctx, nil, "embargo", KindEmbargo, "")
	e.dir.CreateList(ctx, nil, "announce", KindPublic, "")
	if err := e.dir.SetApplications(ctx, nil, "announce", true, nil); err == nil {
		t.Error("a public list takes applications")
	}
	if r, err := e.dir.Applications(ctx, nil, "embargo"); err != nil || r.Open || len(r.Criteria) != len(DefaultCriteria) {
		t.Errorf("by default: %+v %v", r, err)
	}
	if err := e.dir.SetApplications(ctx, nil, "embargo", true, []string{"Be nice"}); err != nil {
		t.Fatal(err)
	}
	if r, err := e.dir.Applications(ctx, nil, "embargo"); err != nil || !r.Open || len(r.Criteria) != 1 || r.Criteria[0] != "Be nice" {
		t.Errorf("set: %+v %v", r, err)
	}
	if _, err := e.dir.Applications(ctx, nil, "nosuch"); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown list: %v", err)
	}
	for _, tc := range []struct {
		l  ListConfig
		ok bool
	}{
		{ListConfig{Name: "e", Kind: KindEmbargo, Applications: true, Criteria: []string{"x"}}, true},
		{ListConfig{Name: "p", Kind: KindPublic, Applications: true}, false},
		{ListConfig{Name: "e", Kind: KindEmbargo, Criteria: []string{" "}}, false},
	} {
		if err := tc.l.checkApplications(); (err == nil) != tc.ok {
			t.Errorf("%+v: %v", tc.l, err)
		}
	}
}
