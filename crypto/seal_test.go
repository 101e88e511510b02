package crypto

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"runtime"
	"sync"
	"testing"
)

// bigEntity is a multipart/mixed entity with an attachment of n random
// bytes in base64.
func bigEntity(n int) []byte {
	data := make([]byte, n)
	rand.Read(data)
	var b bytes.Buffer
	b.WriteString("Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nsee the dump\r\n" +
		"--b\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n")
	enc := base64.StdEncoding.EncodeToString(data)
	for len(enc) > 76 {
		b.WriteString(enc[:76] + "\r\n")
		enc = enc[76:]
	}
	b.WriteString(enc + "\r\n--b--\r\n")
	return b.Bytes()
}

func TestAppendSealed(t *testing.T) {
	team, alice := testKey(t, "team"), testKey(t, "alice")
	rsa := loadTestKey(t, "member-rsa")
	for _, tt := range []struct {
		name   string
		entity []byte
		to     *Key
	}{
		{"text x25519", []byte(textEntityCRLF), alice},
		{"text RSA", []byte(textEntityCRLF), rsa},
		{"1 MiB x25519", bigEntity(1 << 20), alice},
		{"1 MiB RSA", bigEntity(1 << 20), rsa},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s, err := team.Sign(Content{Subject: "s", Entity: tt.entity}, t0)
			if err != nil {
				t.Fatal(err)
			}
			prefix := []byte("From: security@example.org\r\nTo: alice@example.org\r\nSubject: ...\r\n")
			out, err := s.AppendSealed(bytes.Clone(prefix), tt.to.Public(), t0)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.HasPrefix(out, prefix) {
				t.Fatalf("prefix lost: %q", out[:min(len(out), 80)])
			}
			if n := len(out) - len(prefix); n > s.SealedLen() {
				t.Errorf("sealed %d bytes, SealedLen says at most %d", n, s.SealedLen())
			}
			if bytes.Contains(out, []byte("\n")) && bytes.Count(out, []byte("\n")) != bytes.Count(out, []byte("\r\n")) {
				t.Error("bare LF in sealed output")
			}
			o, err := Open(out, OpenOptions{Decrypt: tt.to, Verifiers: []*Key{team.Public()}, Now: t0})
			if err != nil {
				t.Fatal(err)
			}
			if o.Signature == nil || o.Signature.Err != nil || !o.Signature.Whole {
				t.Fatalf("signature %+v", o.Signature)
			}
			if !bytes.HasSuffix(o.Entity, tt.entity[bytes.Index(tt.entity, []byte("\r\n\r\n"))+4:]) {
				t.Error("opened body differs from the signed body")
			}
		})
	}
}

// TestSealMemory bounds what signing and sealing a big message allocate:
// the body is shared by both signed variants and streamed through the
// encryption and the armorer into one buffer. What is allocated is that
// buffer (4/3 of the body) and the short-lived chunks the cipher stream
// makes for each write (the body once, 64 KiB at a time); one more copy of
// the body anywhere fails the test.
func TestSealMemory(t *testing.T) {
	team, alice := testKey(t, "team"), testKey(t, "alice").Public()
	entity := bigEntity(8 << 20)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	s, err := team.Sign(Content{Subject: "s", Entity: entity}, t0)
	if err != nil {
		t.Fatal(err)
	}
	out, err := s.AppendSealed(nil, alice, t0)
	if err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	alloc := after.TotalAlloc - before.TotalAlloc
	limit := (uint64(len(out)) + uint64(len(entity))*5/4) * allocSlack
	t.Logf("entity %d bytes, sealed %d bytes, allocated %d bytes", len(entity), len(out), alloc)
	if alloc > limit {
		t.Errorf("signing and sealing %d bytes allocated %s, want at most %s", len(entity), mib(alloc), mib(limit))
	}
}

func mib(n uint64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }

// TestAtRestMemory bounds what storing and reading back a big message
// allocate: the ciphertext, the short-lived chunks of the cipher stream,
// and the plaintext read back, each once.
func TestAtRestMemory(t *testing.T) {
	team := testKey(t, "team")
	plain := bigEntity(8 << 20)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	ct, err := team.EncryptAtRest(plain)
	if err != nil {
		t.Fatal(err)
	}
	back, err := team.DecryptAtRest(ct)
	if err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	if !bytes.Equal(back, plain) {
		t.Fatal("round trip changed the message")
	}
	alloc := after.TotalAlloc - before.TotalAlloc
	limit := (uint64(len(ct)+len(plain)) + uint64(len(plain))*5/4) * allocSlack
	t.Logf("plain %d bytes, stored %d bytes, allocated %d bytes", len(plain), len(ct), alloc)
	if alloc > limit {
		t.Errorf("at rest round trip of %d bytes allocated %s, want at most %s", len(plain), mib(alloc), mib(limit))
	}
}

// TestOpenStreamsArmor bounds what opening a big PGP/MIME message
// allocates: the armor is decoded as it is decrypted, so the binary form is
// never held whole; what remains is the plaintext and small buffers.
func TestOpenStreamsArmor(t *testing.T) {
	team, alice := testKey(t, "team"), testKey(t, "alice")
	entity := bigEntity(8 << 20)
	s, err := team.Sign(Content{Subject: "s", Entity: entity}, t0)
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := s.SealFor(alice.Public(), t0)
	if err != nil {
		t.Fatal(err)
	}
	raw := outerMessage(sealed)
	opts := OpenOptions{Decrypt: alice, Verifiers: []*Key{team.Public()}, Now: t0}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	o, err := Open(raw, opts)
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatal(err)
	}
	if o.Signature == nil || o.Signature.Err != nil {
		t.Fatalf("signature %+v", o.Signature)
	}
	alloc := after.TotalAlloc - before.TotalAlloc
	limit := uint64(len(entity)) * 3 / 2 * allocSlack
	t.Logf("message %d bytes, entity %d bytes, allocated %d bytes", len(raw), len(entity), alloc)
	if alloc > limit {
		t.Errorf("opening %d bytes allocated %s, want at most %s", len(raw), mib(alloc), mib(limit))
	}
}

// TestSignOnceLazily: sealing for many recipients at once signs the
// cipher variant once, shared by every copy, and never signs the clear
// variant nobody asked for.
func TestSignOnceLazily(t *testing.T) {
	team, alice := testKey(t, "team"), testKey(t, "alice")
	s, err := team.Sign(Content{Subject: "s", Entity: []byte(textEntityCRLF)}, t0)
	if err != nil {
		t.Fatal(err)
	}
	const n = 8
	sealed := make([][]byte, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { sealed[i], errs[i] = s.SealFor(alice.Public(), t0) })
	}
	wg.Wait()
	var sigs []string
	for i := range n {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		o, err := Open(outerMessage(sealed[i]), OpenOptions{Decrypt: alice, Verifiers: []*Key{team.Public()}, Now: t0})
		if err != nil || o.Signature == nil || o.Signature.Err != nil {
			t.Fatalf("copy %d: %v, %+v", i, err, o)
		}
		sigs = append(sigs, o.Signature.ID)
	}
	for _, id := range sigs[1:] {
		if id != sigs[0] {
			t.Fatalf("copies carry different signatures: %q", sigs)
		}
	}
	if s.clear.part.head != nil {
		t.Error("the clear variant was signed though only sealed copies were made")
	}
	ent, err := s.Entity()
	if err != nil || !bytes.Contains(ent, []byte(`hp="clear"`)) {
		t.Fatalf("Entity: %v", err)
	}
}
