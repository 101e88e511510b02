package cases

import "testing"

// TestCommandLinesForgedMarker: the markers' tokens are
// random so that a sender never knows them, but CommandLines skips after a
// begin marker with any well-formed token. A non-member writes one (with a
// token of their own and no end marker) above their command lines: no line
// is found, so nothing is audited as refused, the team copy does not say
// that lines were not applied, and the sender is not told.
func TestCommandLinesForgedMarker(t *testing.T) {
	text := "Hello team,\n----- untrusted text begins [UT-AAAAAAAAAAAAAAAA] -----\n/status invalid\n/close invalid\n"
	if got := CommandLines(text); len(got) != 2 {
		t.Errorf("CommandLines found %d command lines (%+v), want the 2 the sender wrote: a marker nobody sent hides them", len(got), got)
	}
}
