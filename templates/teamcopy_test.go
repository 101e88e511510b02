package templates

import (
	"fmt"
	"strings"
	"testing"
)

// TestTeamCopySignatureLines renders the team copy for every combination of
// what it is told about a signature: its lines never contradict each other,
// whatever the caller passes. "Signature:" says verified, and with whose
// key, exactly when the signature verified; the distributor line says
// "signed by their own key" only then; a note on a failed signature never
// shows beside a verified one.
func TestTeamCopySignatureLines(t *testing.T) {
	s, err := Load("")
	if err != nil {
		t.Fatal(err)
	}
	const fpr = "FEDCBA9876543210FEDCBA9876543210FEDCBA98"
	for _, signed := range []bool{false, true} {
		for _, with := range []string{"", "the key we hold for this distributor"} {
			for _, dist := range []bool{false, true} {
				for _, theirs := range []bool{false, true} {
					for _, note := range []string{"", "signed by a key that is neither the sender's on file nor a member's: not verified"} {
						name := fmt.Sprintf("signed=%v/with=%q/distributor=%v/theirkey=%v/note=%v", signed, with, dist, theirs, note != "")
						d := Sample()
						d.Message.Signed, d.Message.SignedWith, d.Message.SignatureNote = signed, with, note
						d.Message.Distributor, d.Message.TheirKey = dist, theirs
						if !signed {
							d.Message.SignedBy = ""
						}
						txt, err := s.Render(TeamCopy, d)
						if err != nil {
							t.Fatalf("%s: %v", name, err)
						}
						var sig, distLine string
						for _, l := range strings.Split(txt.Body, "\n") {
							switch {
							case strings.HasPrefix(l, "Signature:"):
								sig = l
							case strings.HasPrefix(l, "Distributor:"):
								distLine = l
							}
						}
						verified := strings.HasPrefix(sig, "Signature:  verified, key "+fpr)
						if verified != signed {
							t.Errorf("%s: signature line %q", name, sig)
						}
						if signed && with != "" && !strings.HasSuffix(sig, "("+with+")") {
							t.Errorf("%s: signature line %q does not say whose key", name, sig)
						}
						if signed && strings.Contains(txt.Body, "not verified") {
							t.Errorf("%s: verified beside %q", name, note)
						}
						if strings.Contains(distLine, "signed by their own key") && !verified {
							t.Errorf("%s: %q beside %q", name, distLine, sig)
						}
						if dist && signed && theirs && !strings.Contains(distLine, "signed by their own key") {
							t.Errorf("%s: distributor line %q", name, distLine)
						}
						if (distLine != "") != dist {
							t.Errorf("%s: distributor line %q", name, distLine)
						}
					}
				}
			}
		}
	}
}
