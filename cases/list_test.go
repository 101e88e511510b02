package cases

import (
	"database/sql"
	"slices"
	"testing"
)

// TestListChooses: List returns the cases of the states asked for, newest
// first, each with its whole team in the order it was added, for every
// combination of the filters; the cases of other states are left out.
// Sealed leaves the impact (encrypted at rest) closed; Brief reads the
// fields a table shows, as a whole case has them, and no team.
func TestListChooses(t *testing.T) {
	e := newEnv(t)
	states := []State{StateNew, StateConfirmed, StateClosed, StateInvalid, StateTriaged, StateNew}
	var ids []int64
	for i, st := range states {
		c := e.open(false)
		ids = append(ids, c.ID)
		if _, err := e.db.Writer().Exec(`UPDATE cases SET state = ? WHERE id = ?`, string(st), c.ID); err != nil {
			t.Fatal(err)
		}
		for j := range i % 3 {
			if _, err := e.db.Writer().Exec(`INSERT INTO case_team (case_id, fingerprint, added) VALUES (?, ?, ?)`,
				c.ID, string(rune('Z'-j)), j); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := e.db.Tx(e.ctx, func(tx *sql.Tx) error {
		return e.wf.UpdateCase(e.ctx, tx, ids[1], "", "impact", "", "", func(c *Case) error {
			c.Impact = "SECRET-IMPACT"
			return nil
		})
	}); err != nil {
		t.Fatal(err)
	}
	teamOf := func(id int64) []string {
		var out []string
		e.db.Tx(e.ctx, func(tx *sql.Tx) error {
			out, _ = e.wf.teamOf(e.ctx, tx, id)
			return nil
		})
		return out
	}
	for _, c := range []struct {
		name string
		opts ListOptions
		want []int
	}{
		{"all", ListOptions{}, []int{5, 4, 3, 2, 1, 0}},
		{"open", ListOptions{Open: true}, []int{5, 4, 1, 0}},
		{"new", ListOptions{States: []State{StateNew}}, []int{5, 0}},
		{"closed and invalid", ListOptions{States: []State{StateClosed, StateInvalid}}, []int{3, 2}},
		{"open among closed and confirmed", ListOptions{Open: true, States: []State{StateClosed, StateConfirmed}}, []int{1}},
		{"none", ListOptions{States: []State{StateWontfix}}, nil},
		{"open, sealed", ListOptions{Open: true, Sealed: true}, []int{5, 4, 1, 0}},
		{"brief", ListOptions{Brief: true}, []int{5, 4, 3, 2, 1, 0}},
	} {
		got, err := e.wf.List(e.ctx, c.opts)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		var gotIDs, wantIDs []int64
		for i, cs := range got {
			gotIDs = append(gotIDs, cs.ID)
			if c.opts.Brief {
				full, err := e.wf.GetByID(e.ctx, cs.ID)
				if err != nil {
					t.Fatal(err)
				}
				if cs.Ref != full.Ref || cs.State != full.State || cs.Severity != full.Severity || cs.CVE != full.CVE ||
					cs.Lead != full.Lead || !cs.Received.Equal(full.Received) || !cs.DiscloseAt.Equal(full.DiscloseAt) || cs.Team != nil {
					t.Errorf("%s: case %d %+v, want the fields of %+v and no team", c.name, i, cs, full)
				}
				continue
			}
			if want := teamOf(cs.ID); !slices.Equal(cs.Team, want) {
				t.Errorf("%s: case %d team %q, want %q", c.name, i, cs.Team, want)
			}
		}
		for _, cs := range got {
			if want := cs.ID == ids[1] && !c.opts.Sealed && !c.opts.Brief; (cs.Impact == "SECRET-IMPACT") != want {
				t.Errorf("%s: case %d impact %q", c.name, cs.ID, cs.Impact)
			}
		}
		for _, i := range c.want {
			wantIDs = append(wantIDs, ids[i])
		}
		if !slices.Equal(gotIDs, wantIDs) {
			t.Errorf("%s: cases %v, want %v", c.name, gotIDs, wantIDs)
		}
	}
}
