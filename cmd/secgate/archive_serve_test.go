package main

import (
	"bytes"
	"strings"
	"testing"
)

// TestServeArchive archives a closed case while secgate serve runs on the
// real stack, then attacks what the move left: the report's ciphertext,
// sent again by someone else, is still a replay and opens no case; a
// member's signed command naming the archived case changes nothing in
// either database. Both audit logs verify, and the archived report opens
// with the team key.
func TestServeArchive(t *testing.T) {
	if testing.Short() {
		t.Skip("real mail stack")
	}
	e := startHostile(t, "KN", "KATA", []hostileMember{{"alice", []string{"knative"}}, {"bob", []string{"kata"}}})
	kn := e.kn
	id := e.msgID("report-kn")
	raw := e.encryptedMail(e.rita, "rita", e.ritaFpr, kn.team.Fingerprint(), e.addr(kn.mailbox), "...", "A report.\n"+kn.canary, id)
	e.stack.Send(t, e.addr("rita"), []string{e.addr(kn.mailbox)}, raw)
	e.waitInbound(kn, id)
	var ref string
	e.query(kn, `SELECT c.ref FROM inbound i JOIN cases c ON c.id = i.case_id WHERE i.message_id IN (?, ?)`, id, "<"+id+">").Scan(&ref)
	if ref == "" {
		t.Fatal("the report opened no case")
	}
	e.waitInbound(kn, e.command("alice", kn, "["+ref+"] not a bug", "/case "+ref+"\n/close invalid not reproducible\n"))
	if n := e.count(kn, `SELECT count(*) FROM cases WHERE ref = ? AND state = 'invalid'`, ref); n != 1 {
		t.Fatalf("the case did not close")
	}

	// serve goes on running.
	code, out, errs := runCLI(t, nil, "archive", "-config", e.config, "-project", "knative", "-before", "2099-01-01")
	if code != 0 || !strings.Contains(out, "archived "+ref+" (invalid") {
		t.Fatalf("archive: exit %d: %s %s", code, out, errs)
	}
	audit := func() int {
		db, err := openRO(archiveFile(kn.database))
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		var n int
		db.QueryRow(`SELECT count(*) FROM case_audit`).Scan(&n)
		return n
	}
	archived := audit()

	// Mallory sends the report's ciphertext again under her name.
	replayID := e.msgID("replay-kn")
	replay := bytes.Replace(raw, []byte(id), []byte(replayID), 1)
	replay = bytes.Replace(replay, []byte("From: rita <"+e.addr("rita")+">"), []byte("From: mallory <"+e.addr("mallory")+">"), 1)
	e.stack.Send(t, e.addr("mallory"), []string{e.addr(kn.mailbox)}, replay)
	if class, state, reason := e.waitInbound(kn, replayID); class != "replay" || state != "quarantined" {
		t.Errorf("the report's ciphertext sent again after archiving: %s/%s (%s), want replay/quarantined", class, state, reason)
	}
	if n := e.count(kn, `SELECT count(*) FROM cases`); n != 0 {
		t.Errorf("the replay opened a case (%d cases)", n)
	}

	// Alice's signed command naming the archived case.
	e.waitInbound(kn, e.command("alice", kn, "["+ref+"] again", "/case "+ref+"\n/status confirmed\n"))
	// The gateway log says it all: the move, the replay told to the team,
	// the command refused.
	var gw string
	e.query(kn, `SELECT group_concat(action || ': ' || detail, char(10)) FROM case_audit WHERE case_id = 0`).Scan(&gw)
	for _, want := range []string{"archive: case 1 (" + ref + ") moved to the archive database", "alert: Re-sent ciphertext quarantined",
		"refused: case " + ref + " ended and was moved to the archive on "} {
		if !strings.Contains(gw, want) {
			t.Errorf("the gateway log lacks %q:\n%s", want, gw)
		}
	}
	if n := e.count(kn, `SELECT count(*) FROM cases`); n != 0 {
		t.Errorf("a command naming the archived case made a case")
	}
	if n := audit(); n != archived {
		t.Errorf("the archive's log changed: %d events, %d after archiving", n, archived)
	}

	// Rita writes again about the archived case: a new case, which names it.
	again := e.msgID("again-kn")
	e.stack.Send(t, e.addr("rita"), []string{e.addr(kn.mailbox)},
		e.encryptedMail(e.rita, "rita", e.ritaFpr, kn.team.Fingerprint(), e.addr(kn.mailbox), "Re: ["+ref+"] the fix is incomplete", "It is back.\n", again))
	e.waitInbound(kn, again)
	var newRef, opened string
	e.query(kn, `SELECT c.ref, a.detail FROM inbound i JOIN cases c ON c.id = i.case_id JOIN case_audit a ON a.case_id = c.id AND a.action = 'open'
		WHERE i.message_id IN (?, ?)`, again, "<"+again+">").Scan(&newRef, &opened)
	if newRef == "" || newRef == ref || !strings.Contains(opened, "it names case "+ref+" ended and was moved to the archive on ") {
		t.Errorf("a new report naming the archived case %s: case %q, opened %q; want a new case that names it", ref, newRef, opened)
	}

	for _, args := range [][]string{{}, {"-archive"}} {
		if code, out, errs := runCLI(t, nil, append([]string{"audit", "verify", "-config", e.config, "-project", "knative"}, args...)...); code != 0 {
			t.Errorf("audit verify %v: exit %d: %s %s", args, code, out, errs)
		}
	}
	// Of the two projects, only knative has an archive: the list shows its.
	code, out, errs = runCLI(t, nil, "case", "list", "-config", e.config, "-archive")
	if code != 0 || !strings.Contains(out, ref) {
		t.Errorf("case list -archive over both projects: exit %d: %s %s", code, out, errs)
	}
	code, out, errs = runCLI(t, nil, "case", "show", "-config", e.config, "-archive", "-text", ref)
	if code != 0 || !strings.Contains(out, kn.canary) {
		t.Errorf("case show -archive -text %s: exit %d: %s %s", ref, code, out, errs)
	}
	e.stop()
}
