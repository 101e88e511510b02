package cases

import (
	"testing"
)

// TestVerifyCaseAudit: case show's check of one case reads the case's
// events and the heads at its newest event, and still catches what an
// attacker with the database but without the team key can do to the case:
// change an event and re-hash the chain, add an event, drop the newest.
func TestVerifyCaseAudit(t *testing.T) {
	for _, tc := range []struct {
		name   string
		attack func(f *auditFixture)
		fast   bool // the short way vouches for the case
	}{
		{"untouched", func(f *auditFixture) {}, true},
		{"an event changed, the chain re-hashed", func(f *auditFixture) { f.attacker().forge(f.c1.ID, 2, "nothing happened") }, false},
		{"the newest event changed, the chain re-hashed", func(f *auditFixture) { f.attacker().forge(f.c1.ID, 6, "nothing happened") }, false},
		{"an event added", func(f *auditFixture) {
			a := f.attacker()
			a.dropTriggers()
			a.exec(`INSERT INTO case_audit (case_id, seq, at, actor, action, detail, source, prev_hash, hash)
				SELECT case_id, seq + 1, at, actor, action, 'forged', source, hash, '' FROM case_audit WHERE case_id = ? AND seq = 6`, f.c1.ID)
			a.rehash(f.c1.ID, 7)
		}, false},
		{"the newest event dropped", func(f *auditFixture) {
			a := f.attacker()
			a.dropTriggers()
			a.exec(`DELETE FROM case_audit WHERE case_id = ? AND seq = 6`, f.c1.ID)
		}, false},
		{"the newest event dropped, the later ones renumbered, the newest head dropped", func(f *auditFixture) {
			a := f.attacker()
			a.dropTriggers()
			var id, last int64
			a.db.QueryRow(`SELECT id FROM case_audit WHERE case_id = ? AND seq = 6`, f.c1.ID).Scan(&id)
			a.db.QueryRow(`SELECT max(id) FROM case_audit`).Scan(&last)
			a.exec(`DELETE FROM case_audit WHERE id = ?`, id)
			for n := id + 1; n <= last; n++ {
				a.exec(`UPDATE case_audit SET id = ? WHERE id = ?`, n-1, n)
			}
			a.exec(`DELETE FROM audit_head WHERE events = ?`, last)
		}, false},
		{"another key's heads", func(f *auditFixture) { f.attacker().signHead(testKey(t, "mallory@example.org", 0), f.clock.Now()) }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newAuditFixture(t)
			tc.attack(f)
			c, fast, err := caseAuditCheck(f.ctx, f.db.Reader(), f.team.Public(), f.c1.ID)
			if err != nil {
				t.Fatal(err)
			}
			if fast != tc.fast {
				t.Fatalf("the short way vouched %v, want %v", fast, tc.fast)
			}
			got, err := f.wf.VerifyCaseAudit(f.ctx, f.team.Public(), f.c1.ID)
			if err != nil {
				t.Fatal(err)
			}
			if (got.Err() == nil) != tc.fast {
				t.Errorf("verified: %v (%v), want %v", got.Err() == nil, got.Err(), tc.fast)
			}
			if fast && (c.Chain(f.c1.ID).Events != 6 || c.Head == nil || c.Unsigned != 0) {
				t.Errorf("the short way's check: %+v", c)
			}
		})
	}
}
