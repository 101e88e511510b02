package crypto

import (
	"bytes"
	"errors"
	"testing"
)

func testDataKey(t testing.TB, id uint32) *DataKey {
	t.Helper()
	d, err := GenerateDataKey(id)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestEnvelopeRoundTrip: a key with a data key seals in the envelope form,
// which opens for every size (empty, within one chunk, at and across the
// chunk boundary, several chunks), and no plaintext shows in it.
func TestEnvelopeRoundTrip(t *testing.T) {
	team := testKey(t, "team").WithDataKeys(testDataKey(t, 1))
	chunk := 1 << (envelopeChunk + 6)
	for _, n := range []int{0, 1, 100, chunk - 1, chunk, chunk + 1, 3*chunk + 17, 1<<20 + 5} {
		plain := bytes.Repeat([]byte("embargoed!"), n/10+1)[:n]
		ct, err := team.EncryptAtRest(plain)
		if err != nil {
			t.Fatalf("%d bytes: %v", n, err)
		}
		if !isEnvelope(ct) {
			t.Fatalf("%d bytes: sealed without the envelope form: % x", n, ct[:min(8, len(ct))])
		}
		if n >= 10 && bytes.Contains(ct, plain[:10]) {
			t.Fatalf("%d bytes: plaintext in the sealed value", n)
		}
		got, err := team.DecryptAtRest(ct)
		if err != nil || !bytes.Equal(got, plain) {
			t.Fatalf("%d bytes: DecryptAtRest = %d bytes, %v", n, len(got), err)
		}
	}
}

// TestEnvelopeForms: what was sealed to the team key before data keys
// opens with a key carrying them; what a data key sealed opens while the
// key carries that data key, sealing or not, and fails plainly (not a
// panic, not garbage) once it does not.
func TestEnvelopeForms(t *testing.T) {
	bare := testKey(t, "team")
	d1, d2 := testDataKey(t, 1), testDataKey(t, 2)
	old, err := bare.EncryptAtRest([]byte("before data keys"))
	if err != nil {
		t.Fatal(err)
	}
	if isEnvelope(old) {
		t.Fatal("a key without data keys sealed in the envelope form")
	}
	by1, err := bare.WithDataKeys(d1).EncryptAtRest([]byte("with key 1"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		key     *Key
		ct      []byte
		want    string
		wantErr bool
	}{
		{"old form, key with data keys", bare.WithDataKeys(d1), old, "before data keys", false},
		{"key 1, sealing with it", bare.WithDataKeys(d1), by1, "with key 1", false},
		{"key 1, sealing with key 2", bare.WithDataKeys(d2, d1), by1, "with key 1", false},
		{"key 1, without it", bare.WithDataKeys(d2), by1, "", true},
		{"key 1, no data keys at all", bare, by1, "", true},
		{"key 1, public key", bare.Public(), by1, "", true},
		{"another key 1", bare.WithDataKeys(testDataKey(t, 1)), by1, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.key.DecryptAtRest(tt.ct)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("opened: %q", got)
				}
				return
			}
			if err != nil || string(got) != tt.want {
				t.Fatalf("DecryptAtRest = %q, %v", got, err)
			}
		})
	}
}

// TestEnvelopeTamper: every change to a sealed value, by someone without
// the data key, fails the integrity check: a flipped bit anywhere, another
// key ID, a cut, bytes appended.
func TestEnvelopeTamper(t *testing.T) {
	d1, d2 := testDataKey(t, 1), testDataKey(t, 2)
	team := testKey(t, "team").WithDataKeys(d1, d2)
	plain := bytes.Repeat([]byte("x"), 3<<16+5)
	ct, err := team.EncryptAtRest(plain)
	if err != nil {
		t.Fatal(err)
	}
	var cases [][]byte
	for _, i := range []int{len(envelopeMagic) + 3, len(envelopeMagic) + 5, len(envelopeMagic) + 20, len(ct) / 2, len(ct) - 20, len(ct) - 1} {
		c := bytes.Clone(ct)
		c[i] ^= 0x01
		cases = append(cases, c)
	}
	cases = append(cases, ct[:len(ct)-1], ct[:len(ct)-17], ct[:len(envelopeMagic)+2], append(bytes.Clone(ct), 0xd2, 0))
	for i, c := range cases {
		if got, err := team.DecryptAtRest(c); err == nil {
			t.Errorf("change %d opened (%d bytes)", i, len(got))
		} else if !errors.Is(err, ErrDecrypt) {
			t.Errorf("change %d: %v, want ErrDecrypt", i, err)
		}
	}
}

// TestDataKeyWrap: a data key is stored only wrapped to the team key; the
// public key cannot unwrap it, a key that succeeded the one it was wrapped
// to can (WithPrevious), and it then opens what it sealed.
func TestDataKeyWrap(t *testing.T) {
	old, newKey := testKey(t, "team"), testKey(t, "team2")
	d := testDataKey(t, 7)
	wrapped, err := old.WrapDataKey(d, t0)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(wrapped, d.key) || isEnvelope(wrapped) {
		t.Fatal("the wrapped data key shows the key or is sealed with a data key")
	}
	sealed, err := old.WithDataKeys(d).EncryptAtRest([]byte("report"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := old.Public().UnwrapDataKey(7, wrapped); !errors.Is(err, ErrNotPrivate) {
		t.Fatalf("public key unwrapped: %v", err)
	}
	if _, err := newKey.UnwrapDataKey(7, wrapped); err == nil {
		t.Fatal("an unrelated key unwrapped")
	}
	got, err := newKey.WithPrevious(old).UnwrapDataKey(7, wrapped)
	if err != nil {
		t.Fatal(err)
	}
	plain, err := newKey.WithDataKeys(nil, got).DecryptAtRest(sealed)
	if err != nil || string(plain) != "report" {
		t.Fatalf("DecryptAtRest = %q, %v", plain, err)
	}
	// A data key wrapped with a data key would open only with itself.
	if _, err := old.UnwrapDataKey(7, sealed); !errors.Is(err, ErrDecrypt) {
		t.Fatalf("unwrapped an envelope: %v", err)
	}
	if got.MadeFor() != old.Fingerprint() {
		t.Fatalf("made for %s, want %s", got.MadeFor(), old.Fingerprint())
	}
	// Wrapped again to the key that succeeded: still made for the old one,
	// as its signature says.
	rewrapped, err := newKey.WithPrevious(old).WrapDataKey(got, t0)
	if err != nil {
		t.Fatal(err)
	}
	again, err := newKey.WithPrevious(old).UnwrapDataKey(7, rewrapped)
	if err != nil || again.MadeFor() != old.Fingerprint() {
		t.Fatalf("rewrapped: %v, %v", again, err)
	}
	if id, ok := old.WithDataKeys(d).SealsWithDataKey(); !ok || id != 7 {
		t.Fatalf("SealsWithDataKey = %d, %v", id, ok)
	}
	if _, ok := old.WithDataKeys(nil, d).SealsWithDataKey(); ok {
		t.Fatal("seals with an opening-only data key")
	}
}

func FuzzDecryptEnvelope(f *testing.F) {
	team := testKey(f, "team").WithDataKeys(testDataKey(f, 1))
	ct, err := team.EncryptAtRest([]byte("seed value"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(ct)
	f.Add(envelopeMagic)
	f.Add(append(bytes.Clone(envelopeMagic), 0, 0, 0, 1, 0xd2, 0x02))
	f.Fuzz(func(t *testing.T, data []byte) {
		plain, err := team.DecryptAtRest(data)
		if err == nil && isEnvelope(data) && string(plain) != "seed value" {
			// Only the data key's holder makes values that open: the
			// seed, however its packet is framed.
			t.Fatalf("forged value opened: %q", plain)
		}
	})
}

func BenchmarkAtRest(b *testing.B) {
	plain := bytes.Repeat([]byte("report text "), 200)
	for _, bc := range []struct {
		name string
		key  *Key
	}{{"team key", testKey(b, "team")}, {"data key", testKey(b, "team").WithDataKeys(testDataKey(b, 1))}} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				ct, err := bc.key.EncryptAtRest(plain)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := bc.key.DecryptAtRest(ct); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestDataKeyForged: a wrap counts only when it holds the statement of its
// data key signed by the team key it names. Anyone can encrypt to the
// team's public key: a bare key, an unsigned statement, one signed by
// another key, one naming another ID, or one naming the team key but
// signed by a key it succeeded, are all refused.
func TestDataKeyForged(t *testing.T) {
	team, other := testKey(t, "team"), testKey(t, "mallory")
	prev := testKey(t, "team2")
	key := bytes.Repeat([]byte{0x42}, 32)
	text := dataKeyText(5, team.Fingerprint(), key)
	sign := func(k *Key, text string) string {
		sig, err := k.SignDetached([]byte(text), t0)
		if err != nil {
			t.Fatal(err)
		}
		return text + sig
	}
	for _, tt := range []struct {
		name, payload string
		key           *Key
	}{
		{"bare key", string(key), team},
		{"unsigned statement", text, team},
		{"signed by another key", sign(other, text), team},
		{"another ID", sign(team, dataKeyText(6, team.Fingerprint(), key)), team},
		{"names the team key, signed by the one before", sign(prev, text), team.WithPrevious(prev)},
		{"short key", sign(team, dataKeyText(5, team.Fingerprint(), key[:16])), team},
	} {
		t.Run(tt.name, func(t *testing.T) {
			wrapped, err := team.Public().EncryptAtRest([]byte(tt.payload))
			if err != nil {
				t.Fatal(err)
			}
			if d, err := tt.key.UnwrapDataKey(5, wrapped); err == nil {
				t.Fatalf("a forged data key unwrapped, made for %s", d.MadeFor())
			}
		})
	}
	good, err := team.Public().EncryptAtRest([]byte(sign(team, text)))
	if err != nil {
		t.Fatal(err)
	}
	if d, err := team.UnwrapDataKey(5, good); err != nil || d.MadeFor() != team.Fingerprint() {
		t.Fatalf("the signed statement does not unwrap: %v", err)
	}
}
