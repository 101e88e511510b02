package cases

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"testing"
	"time"
)

// eventJSON is what hashEvent hashed before appendEventJSON, and what
// every stored chain was hashed with.
func eventJSON(e AuditEvent, millis int64) []byte {
	b, _ := json.Marshal([]any{e.CaseID, e.Seq, millis, e.Actor, e.Action, e.Detail, e.Source, e.PrevHash})
	return b
}

// FuzzEventJSON: appendEventJSON encodes every event as json.Marshal did,
// byte for byte, so that chains written before it still verify: quotes,
// backslashes, HTML characters, control characters, U+2028, invalid
// UTF-8 and negative numbers included.
func FuzzEventJSON(f *testing.F) {
	for _, s := range []string{"", "status", "-> closed", `a"b\c`, "<script>&", "line\nbreak\t\x00\x7f", "\u2028\u2029", "\xff\xfe", "é ü 漢字", "😀"} {
		f.Add(int64(7), int64(3), int64(1700000000000), s, "action", s, "<msg@example>", genesis)
	}
	f.Add(int64(-1), int64(0), int64(-5), "a", "b", "c", "d", "e")
	f.Fuzz(func(t *testing.T, caseID, seq, millis int64, actor, action, detail, source, prev string) {
		e := AuditEvent{CaseID: caseID, Seq: seq, Actor: actor, Action: action, Detail: detail, Source: source, PrevHash: prev}
		if got, want := appendEventJSON(nil, e, millis), eventJSON(e, millis); string(got) != string(want) {
			t.Errorf("appendEventJSON %q, json.Marshal %q", got, want)
		}
	})
}

// TestHashEventUnchanged: an event's hash is the SHA-256 of json.Marshal's
// encoding, as chains already stored were hashed.
func TestHashEventUnchanged(t *testing.T) {
	for _, e := range []AuditEvent{
		{CaseID: 1, Seq: 1, At: time.UnixMilli(1700000000123), Actor: "gateway", Action: "open", Detail: "report <a&b>", PrevHash: genesis},
		{CaseID: 0, Seq: 9, At: time.UnixMilli(1), Actor: "sender:x@y", Action: "refused", Detail: "line\n\"quoted\" \xff", Source: "<m@x>", PrevHash: "ab"},
	} {
		old := e
		old.Hash = hashEvent(e)
		h := sha256.Sum256(eventJSON(e, e.At.UnixMilli()))
		sum := hex.EncodeToString(h[:])
		if old.Hash != sum {
			t.Errorf("hash %s, want %s", old.Hash, sum)
		}
	}
}

// BenchmarkHashEvent hashes an event as verifying the log does, and as it
// did through json.Marshal (old).
func BenchmarkHashEvent(b *testing.B) {
	e := AuditEvent{CaseID: 1234, Seq: 7, At: time.UnixMilli(1700000000123), Actor: "0123456789ABCDEF0123456789ABCDEF01234567",
		Action: "status", Detail: "confirmed -> triaged", Source: "<cmd-1@example.org>", PrevHash: genesis}
	b.Run("new", func(b *testing.B) {
		for range b.N {
			hashEvent(e)
		}
	})
	b.Run("old", func(b *testing.B) {
		for range b.N {
			h := sha256.Sum256(eventJSON(e, e.At.UnixMilli()))
			_ = hex.EncodeToString(h[:])
		}
	})
}
