package crypto

import (
	"bytes"
	"crypto/rand"
	"errors"
	"io"
	"testing"
	"testing/iotest"
)

// TestAtRestStream: what SealAtRest writes, in writes of any size, opens
// with DecryptAtRest and with OpenAtRest read a byte at a time, and so
// does what EncryptAtRest wrote; a tampered stream does not open; a
// public key cannot open. Both forms: sealed to the team key, and sealed
// with a data key (the envelope form, in chunks of its largest size).
func TestAtRestStream(t *testing.T) {
	for _, form := range []string{"team key", "data key"} {
		t.Run(form, func(t *testing.T) {
			team := testKey(t, "team")
			if form == "data key" {
				team = team.WithDataKeys(testDataKey(t, 7))
			}
			testAtRestStream(t, team, form == "data key")
		})
	}
}

func testAtRestStream(t *testing.T, team *Key, envelope bool) {
	plain := make([]byte, 3<<20+11)
	rand.Read(plain)
	for _, write := range []int{1 << 20, 100003, len(plain)} {
		var ct bytes.Buffer
		w, err := team.SealAtRest(&ct)
		if err != nil {
			t.Fatal(err)
		}
		for p := plain; len(p) > 0; {
			n, err := w.Write(p[:min(len(p), write)])
			if err != nil {
				t.Fatal(err)
			}
			p = p[n:]
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		if isEnvelope(ct.Bytes()) != envelope {
			t.Fatalf("writes of %d: sealed in the envelope form: %v, want %v", write, !envelope, envelope)
		}
		if pt, err := team.DecryptAtRest(ct.Bytes()); err != nil || !bytes.Equal(pt, plain) {
			t.Fatalf("writes of %d: DecryptAtRest: %d bytes, %v", write, len(pt), err)
		}
		open := func() io.Reader { return iotest.OneByteReader(bytes.NewReader(ct.Bytes())) }
		if pt, err := team.OpenAtRest(open, int64(ct.Len())); err != nil || !bytes.Equal(pt, plain) {
			t.Fatalf("writes of %d: OpenAtRest: %d bytes, %v", write, len(pt), err)
		}
	}
	ct, err := team.EncryptAtRest(plain)
	if err != nil {
		t.Fatal(err)
	}
	if pt, err := team.OpenAtRest(func() io.Reader { return bytes.NewReader(ct) }, int64(len(ct))); err != nil || !bytes.Equal(pt, plain) {
		t.Fatalf("OpenAtRest of EncryptAtRest: %d bytes, %v", len(pt), err)
	}
	ct[len(ct)/2] ^= 1
	if pt, err := team.OpenAtRest(func() io.Reader { return bytes.NewReader(ct) }, int64(len(ct))); !errors.Is(err, ErrDecrypt) || pt != nil {
		t.Fatalf("tampered: %d bytes, %v", len(pt), err)
	}
	if _, err := team.Public().OpenAtRest(func() io.Reader { return bytes.NewReader(ct) }, int64(len(ct))); !errors.Is(err, ErrNotPrivate) {
		t.Fatalf("public key: %v", err)
	}
}
