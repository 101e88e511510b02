package main

import (
	"strconv"
	"strings"
	"testing"
)

func TestQuarantineCommands(t *testing.T) {
	f := newFixture(t)
	id := strconv.FormatInt(f.held, 10)

	out := f.ok(t, false, "quarantine", "list")
	if !strings.Contains(out, "mallory@example.net") || !strings.Contains(out, "rate limit") {
		t.Errorf("quarantine list:\n%s", out)
	}
	var list []inboundJSON
	decodeJSON(t, f.ok(t, false, "quarantine", "list", "--json"), &list)
	if len(list) != 1 || list[0].ID != f.held || list[0].State != "quarantined" || len(list[0].SHA256) != 64 || list[0].Header != nil {
		t.Errorf("JSON: %+v", list)
	}

	out = f.ok(t, true, "quarantine", "show", id)
	if !strings.Contains(out, "Subject: flood") || !strings.Contains(out, "reason:     rate limit") {
		t.Errorf("quarantine show:\n%s", out)
	}
	if strings.Contains(out, "BODY-MUST-NOT-SHOW") {
		t.Errorf("quarantine show prints the body:\n%s", out)
	}
	var one inboundJSON
	decodeJSON(t, f.ok(t, true, "quarantine", "show", id, "--json"), &one)
	if one.Header == nil || !strings.Contains(*one.Header, "Message-ID: <q1@example.net>") || strings.Contains(*one.Header, "BODY") {
		t.Errorf("JSON: %+v", one)
	}

	code, _, stderr := f.runNoKey(t, "quarantine", "show", id)
	mustFail(t, code, stderr, "SECGATE_PASSPHRASE is not set")
	code, _, stderr = f.run(t, "quarantine", "show", "999")
	mustFail(t, code, stderr, "no inbound message 999")

	out = f.ok(t, false, "quarantine", "release", id)
	if !strings.Contains(out, "released") {
		t.Errorf("release: %q", out)
	}
	code, _, stderr = f.runNoKey(t, "quarantine", "release", id)
	mustFail(t, code, stderr, "is released, not quarantined")
	code, _, stderr = f.runNoKey(t, "quarantine", "release", "999")
	mustFail(t, code, stderr, "no quarantined message 999")
	if out := f.ok(t, false, "quarantine", "list"); out != "quarantine is empty\n" {
		t.Errorf("after release: %q", out)
	}
	code, _, stderr = f.runNoKey(t, "quarantine", "list", "extra")
	mustFail(t, code, stderr, "want no arguments")
}
