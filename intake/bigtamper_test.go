package intake

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"testing"
	"time"
)

// TestRealStackBigReportTampered: a report of several MiB whose ciphertext
// was changed on the way (one base64 character of its armor, early or
// late: the late one after all but the last of what the opener decrypts
// as it reads the stored pieces) goes through Postfix and Dovecot, is
// opened from its pieces and quarantined as undecryptable: no case, no
// team copy, nothing of what was decrypted before the check failed left.
func TestRealStackBigReportTampered(t *testing.T) {
	if testing.Short() {
		t.Skip("real mail stack")
	}
	g := startGateway(t)
	ctx, cancel := context.WithCancel(g.ctx)
	done := g.runPoller(ctx, nil)
	defer func() { cancel(); <-done }()

	att := make([]byte, 3<<20)
	rand.Read(att)
	ids := map[string]float64{"big-early@outside.example": 0.1, "big-late@outside.example": 0.97}
	for id, at := range ids {
		g.send(tamperArmor(t, g.bigReport(t, att, id), at))
	}
	g.stack.WaitMessages(t, "security", "Quarantine", len(ids), 120*time.Second)
	for id := range ids {
		var state, class, reason string
		var caseID sql.NullInt64
		if err := g.db.Reader().QueryRow(`SELECT state, class, reason, case_id FROM inbound WHERE message_id = ?`, id).
			Scan(&state, &class, &reason, &caseID); err != nil {
			t.Fatal(err)
		}
		if state != StateQuarantined || class != ClassUndecryptable || caseID.Valid {
			t.Errorf("%s: %s, %s (%s), case %v; want quarantined as undecryptable, no case", id, state, class, reason, caseID)
		}
	}
	var copies int
	if err := g.db.Reader().QueryRow(`SELECT count(*) FROM outbox WHERE kind = 'team-copy'`).Scan(&copies); err != nil {
		t.Fatal(err)
	}
	if copies != 0 {
		t.Errorf("%d team copies of tampered reports", copies)
	}
	if n := g.partPieces(t); n != 0 {
		t.Errorf("%d pieces of a plaintext that failed its integrity check left", n)
	}
}

// tamperArmor changes one base64 character of the armored PGP MESSAGE in
// raw, at the fraction at of its body lines.
func tamperArmor(t *testing.T, raw []byte, at float64) []byte {
	t.Helper()
	begin := bytes.Index(raw, []byte("-----BEGIN PGP MESSAGE-----"))
	end := bytes.Index(raw, []byte("-----END PGP MESSAGE-----"))
	body := bytes.Index(raw[begin:], []byte("\r\n\r\n")) + begin + 4
	if begin < 0 || end < body {
		t.Fatal("no armored message")
	}
	i := body + int(float64(end-body)*at)
	for raw[i] == '\r' || raw[i] == '\n' || raw[i] == '=' {
		i++
	}
	out := bytes.Clone(raw)
	if out[i] == 'A' {
		out[i] = 'B'
	} else {
		out[i] = 'A'
	}
	return out
}
