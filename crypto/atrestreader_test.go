package crypto

import (
	"bytes"
	"crypto/rand"
	"errors"
	"io"
	"testing"
	"testing/iotest"
)

// TestReadAtRest: a value sealed with a data key reads back as it was
// sealed, a byte at a time too; cut, tampered, with bytes after it, or
// sealed to the team key, it fails with ErrDecrypt and never ends as if
// whole; a public key cannot read it.
func TestReadAtRest(t *testing.T) {
	team := testKey(t, "team").WithDataKeys(testDataKey(t, 7))
	plain := make([]byte, 1<<20+77)
	rand.Read(plain)
	var ct bytes.Buffer
	w, err := team.SealAtRest(&ct)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(plain)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	sealed := ct.Bytes()
	for name, src := range map[string]io.Reader{
		"whole":          bytes.NewReader(sealed),
		"byte at a time": iotest.OneByteReader(bytes.NewReader(sealed)),
	} {
		r, err := team.ReadAtRest(src)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		got, err := io.ReadAll(r)
		if err != nil || !bytes.Equal(got, plain) {
			t.Errorf("%s: %d bytes, %v", name, len(got), err)
		}
	}
	tampered := bytes.Clone(sealed)
	tampered[len(tampered)-40] ^= 1
	toTeam, err := testKey(t, "team").EncryptAtRest(plain[:100])
	if err != nil {
		t.Fatal(err)
	}
	for name, bad := range map[string][]byte{
		"cut":          sealed[:len(sealed)-20],
		"cut at chunk": sealed[:len(sealed)/2],
		"tampered":     tampered,
		"bytes after":  append(bytes.Clone(sealed), 0),
		"to team key":  toTeam,
		"empty":        nil,
	} {
		r, err := team.ReadAtRest(bytes.NewReader(bad))
		if err == nil {
			_, err = io.ReadAll(r)
		}
		if !errors.Is(err, ErrDecrypt) {
			t.Errorf("%s: %v, want ErrDecrypt", name, err)
		}
	}
	if _, err := team.Public().ReadAtRest(bytes.NewReader(sealed)); !errors.Is(err, ErrNotPrivate) {
		t.Errorf("public key: %v", err)
	}
}
