package intake

import (
	"testing"

	"github.com/secgate/secgate/distlist"
)

// TestRecords: the team handed to OpenCase is the directory's own records
// when every member carries one, and nothing (OpenCase reads the team
// itself) otherwise.
func TestRecords(t *testing.T) {
	a := distlist.Member{Name: "A", Address: "a@example.org", Fingerprint: "AA", Rota: 1}
	b := distlist.Member{Name: "B", Address: "b@example.org", Fingerprint: "BB", Rota: 2, Away: true}
	got := records([]Member{member(a), member(b)})
	if len(got) != 2 || got[0].Fingerprint != "AA" || got[1].Rota != 2 || !got[1].Away {
		t.Errorf("records = %+v, want a and b as the directory has them", got)
	}
	if got := records([]Member{member(a), {Name: "C", Fingerprint: "CC"}}); got != nil {
		t.Errorf("records with a member of no record = %+v, want nil", got)
	}
	if got := records(nil); got != nil {
		t.Errorf("records(nil) = %+v", got)
	}
	if got := records([]Member{}); got == nil || len(got) != 0 {
		t.Errorf("records of an empty team = %#v, want an empty team, not nil", got)
	}
}
