package distlist

import (
	"context"
	"strings"
	"testing"

	"github.com/secgate/secgate/distlist/smtpsink"
	"github.com/secgate/secgate/store"
)

// TestEnqueueRemembersKeys: the recipients' keys the directory lacks are
// stored once each, those it holds are left alone, and which it holds is
// read off dir_key's index in one statement.
func TestEnqueueRemembersKeys(t *testing.T) {
	e := newEnv(t, smtpsink.Options{}, nil)
	ka := testKey(t, "alice@distro-a.example", "x25519", false)
	kb := testKey(t, "bob@distro-b.example", "x25519", false)
	notice := func(id string, rcpts ...Recipient) Mail {
		return Mail{Kind: "embargo-notice", NoticeID: id, Encrypt: true, Content: textContent("[SEC-1] "+id, "Body of "+id+"."),
			Recipients: rcpts}
	}
	alice := Recipient{Address: "alice@distro-a.example", Key: ka.Public()}
	bob := Recipient{Address: "bob@distro-b.example", Key: kb.Public()}
	bob2 := Recipient{Address: "bob.two@distro-b.example", Key: kb.Public()} // the same key for a second address
	keys := func() map[string]int {
		rows, err := e.db.Reader().Query(`SELECT fingerprint, count(*) FROM dir_key GROUP BY fingerprint`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		n := map[string]int{}
		for rows.Next() {
			var f string
			var c int
			if err := rows.Scan(&f, &c); err != nil {
				t.Fatal(err)
			}
			n[f] = c
		}
		return n
	}
	for _, tc := range []struct {
		notice string
		rcpts  []Recipient
		want   []string // fingerprints in dir_key afterwards
	}{
		{"one", []Recipient{alice}, []string{ka.Fingerprint()}},
		{"two", []Recipient{alice, bob, bob2}, []string{ka.Fingerprint(), kb.Fingerprint()}},
		{"three", []Recipient{bob, alice}, []string{ka.Fingerprint(), kb.Fingerprint()}},
	} {
		if sk := e.enqueue(notice(tc.notice, tc.rcpts...)); len(sk) != 0 {
			t.Fatalf("%s: skipped %+v", tc.notice, sk)
		}
		if n := len(e.rows(tc.notice)); n != len(tc.rcpts) {
			t.Errorf("%s: %d rows, want %d", tc.notice, n, len(tc.rcpts))
		}
		got := keys()
		for _, f := range tc.want {
			if got[f] != 1 {
				t.Errorf("%s: key %s stored %d times, want once", tc.notice, f, got[f])
			}
		}
		if len(got) != len(tc.want) {
			t.Errorf("%s: keys %v, want %v", tc.notice, got, tc.want)
		}
	}
	plan, err := store.QueryPlan(context.Background(), e.db.Reader(), knownKeysQuery, `["A","B"]`)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(plan, "SEARCH dir_key USING COVERING INDEX") {
		t.Errorf("plan %q: want dir_key's index searched for each fingerprint", plan)
	}
}
