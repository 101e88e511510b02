package crypto

import (
	"bytes"
	gocrypto "crypto"
	"errors"
	"fmt"
	"testing"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
	"github.com/ProtonMail/go-crypto/openpgp/s2k"

	"github.com/secgate/secgate/internal/gpgtest"
)

// TestIteratedS2K: the derivation in large writes gives go-crypto's key
// for every hash, key size (several digests when the key is longer than
// one), count (below the salt and passphrase's length, not a multiple of
// it, go-crypto's default) and passphrase (longer than a write).
func TestIteratedS2K(t *testing.T) {
	long := bytes.Repeat([]byte("long passphrase "), 5000) // 80 000 octets, over s2kChunk
	for _, tc := range []struct {
		hash  gocrypto.Hash
		size  int
		count int
		pass  []byte
	}{
		{gocrypto.SHA256, 32, 16777216, []byte("bench passphrase")},
		{gocrypto.SHA256, 16, 65536, []byte("p")},
		{gocrypto.SHA1, 32, 65536, []byte("two digests")},
		{gocrypto.SHA1, 24, 1025, []byte("odd count")},
		{gocrypto.SHA512, 32, 65011712, []byte("the largest count")},
		{gocrypto.SHA256, 32, 3, []byte("count below the length")},
		{gocrypto.SHA224, 32, 1024, []byte("two digests of 28")},
		{gocrypto.SHA256, 32, 200000, long},
	} {
		t.Run(fmt.Sprintf("%v-%d-%d-%d", tc.hash, tc.size, tc.count, len(tc.pass)), func(t *testing.T) {
			salt := []byte{1, 2, 3, 4, 5, 6, 7, 8}
			want, got := make([]byte, tc.size), make([]byte, tc.size)
			s2k.Iterated(want, tc.hash.New(), tc.pass, salt, tc.count)
			iteratedS2K(got, tc.hash.New, tc.pass, salt, tc.count)
			if !bytes.Equal(got, want) {
				t.Fatalf("derived %x, go-crypto %x", got, want)
			}
		})
	}
}

// protect returns k's secret key, binary, protected with pass under cfg
// (nil: go-crypto's defaults, as ArmorPrivate).
func protect(t testing.TB, k *Key, pass []byte, cfg *packet.Config) []byte {
	t.Helper()
	var plain bytes.Buffer
	if err := k.entity.SerializePrivateWithoutSigning(&plain, nil); err != nil {
		t.Fatal(err)
	}
	cp, err := openpgp.ReadEntity(packet.NewReader(&plain))
	if err != nil {
		t.Fatal(err)
	}
	if err := cp.EncryptPrivateKeys(pass, cfg); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := cp.SerializePrivateWithoutSigning(&out, nil); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// unlockedBytes is the unlocked secret key of e as go-crypto writes it.
func unlockedBytes(t testing.TB, e *openpgp.Entity) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := e.SerializePrivateWithoutSigning(&b, nil); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// goCryptoUnlock unlocks key the way ParsePrivateKey did before
// unlockPackets: go-crypto's DecryptPrivateKeys.
func goCryptoUnlock(key, pass []byte) (*openpgp.Entity, error) {
	e, err := readEntity(key)
	if err != nil {
		return nil, err
	}
	return e, e.DecryptPrivateKeys(pass)
}

// TestUnlockPackets: every protected key the gateway meets (made by
// ArmorPrivate as secgate init makes it, curve25519 and RSA; exported by
// gpg) is unlocked by unlockPackets, to the very key go-crypto unlocks;
// a wrong passphrase, and the forms it leaves to go-crypto (a version 6
// key, an AEAD-protected key, gpg's offline primary), are not unlocked by
// it, and ParsePrivateKey still answers as before.
func TestUnlockPackets(t *testing.T) {
	pass := []byte(testPassphrase)
	armorOf := func(k *Key) []byte { return []byte(armorPrivate(t, k, pass)) }
	v6, err := GenerateKey("Six", "six@example.org", GenerateOptions{V6: true, Created: t0})
	if err != nil {
		t.Fatal(err)
	}
	g := gpgtest.New(t)
	g.Passphrase = testPassphrase
	rsa := loadTestKey(t, "member-rsa")
	g.Import(armorOf(rsa))
	gpgSec := g.ExportSecret(rsa.Fingerprint())
	dave := testKey(t, "dave")
	g.Import(armorOf(dave))
	gpgEd := g.ExportSecret(dave.Fingerprint())
	ed := g.GenKey("Team <security@example.org>", "ed25519") // not protected
	r := g.Run(nil, "--armor", "--export-secret-subkeys", ed)
	if r.Err != nil {
		t.Fatalf("export-secret-subkeys: %v %s", r.Err, r.Stderr)
	}
	aead := &packet.Config{AEADConfig: &packet.AEADConfig{}}
	for _, tc := range []struct {
		name string
		key  []byte
		fast bool // unlockPackets unlocks it
		open bool // not protected: any passphrase does
	}{
		{"x25519, as secgate init protects it", armorOf(testKey(t, "alice")), true, false},
		{"RSA-3072, as secgate init protects it", armorOf(loadTestKey(t, "team-rsa")), true, false},
		{"x25519, binary", protect(t, testKey(t, "bob"), pass, nil), true, false},
		{"gpg export, RSA", gpgSec, true, false},
		{"gpg export, curve25519", gpgEd, true, false},
		{"gpg offline primary, not protected", r.Stdout, false, true},
		{"version 6", []byte(armorPrivate(t, v6, pass)), false, false},
		{"AEAD protection", protect(t, testKey(t, "carol"), pass, aead), false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want, err := goCryptoUnlock(tc.key, pass)
			if err != nil {
				t.Fatalf("go-crypto: %v", err)
			}
			e, err := readEntity(tc.key)
			if err != nil {
				t.Fatal(err)
			}
			u := unlockFast(tc.key, pass, e)
			if (u != nil) != tc.fast {
				t.Fatalf("unlocked by unlockPackets: %v, want %v", u != nil, tc.fast)
			}
			if u != nil && !bytes.Equal(unlockedBytes(t, u), unlockedBytes(t, want)) {
				t.Fatal("unlockPackets unlocked another key than go-crypto")
			}
			k, err := ParsePrivateKey(tc.key, pass)
			if err != nil || !bytes.Equal(unlockedBytes(t, k.entity), unlockedBytes(t, want)) {
				t.Fatalf("ParsePrivateKey: %v, or another key than go-crypto's", err)
			}
			if tc.open {
				return
			}
			if _, ok := unlockPackets(tc.key, []byte("wrong")); ok {
				t.Error("unlockPackets accepted a wrong passphrase")
			}
			if _, err := ParsePrivateKey(tc.key, []byte("wrong")); !errors.Is(err, ErrBadPassphrase) {
				t.Errorf("wrong passphrase: %v, want ErrBadPassphrase", err)
			}
		})
	}
}

// TestUnlockPacketsApart: a primary key and subkey protected apart, each
// with its own S2K, are each derived on their own and unlocked as
// go-crypto unlocks them; under two passphrases the key does not unlock
// with either, by either path (ErrBadPassphrase).
func TestUnlockPacketsApart(t *testing.T) {
	pass, other := []byte(testPassphrase), []byte("another passphrase")
	apart := func(primary, sub []byte) []byte {
		var plain bytes.Buffer
		if err := testKey(t, "erin").entity.SerializePrivateWithoutSigning(&plain, nil); err != nil {
			t.Fatal(err)
		}
		e, err := openpgp.ReadEntity(packet.NewReader(&plain))
		if err != nil {
			t.Fatal(err)
		}
		if err := e.PrivateKey.Encrypt(primary); err != nil {
			t.Fatal(err)
		}
		if err := e.Subkeys[0].PrivateKey.Encrypt(sub); err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		if err := e.SerializePrivateWithoutSigning(&out, nil); err != nil {
			t.Fatal(err)
		}
		return out.Bytes()
	}
	one := apart(pass, pass)
	e, err := readEntity(one)
	if err != nil {
		t.Fatal(err)
	}
	u := unlockFast(one, pass, e)
	want, err := goCryptoUnlock(one, pass)
	if u == nil || err != nil || !bytes.Equal(unlockedBytes(t, u), unlockedBytes(t, want)) {
		t.Fatalf("one passphrase, two S2Ks: unlocked %v, go-crypto %v, or not the same key", u != nil, err)
	}
	two := apart(pass, other)
	for _, p := range [][]byte{pass, other} {
		if _, ok := unlockPackets(two, p); ok {
			t.Errorf("two passphrases: unlocked with %q alone", p)
		}
		if _, err := ParsePrivateKey(two, p); !errors.Is(err, ErrBadPassphrase) {
			t.Errorf("two passphrases, %q: %v, want ErrBadPassphrase", p, err)
		}
	}
}

func armorPrivate(t testing.TB, k *Key, pass []byte) string {
	t.Helper()
	a, err := k.ArmorPrivate(pass)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// TestUnlockDerivesOnce: a key whose primary key and subkey share one S2K
// (as ArmorPrivate protects them) is unlocked with one derivation, so in
// about half go-crypto's time; BenchmarkUnlock has the figures.
func TestUnlockDerivesOnce(t *testing.T) {
	derived := map[s2kKey][]byte{}
	var n int
	bin := protect(t, testKey(t, "alice"), []byte(testPassphrase), nil)
	for len(bin) > 0 {
		tag, hdr, body, ok := nextPacket(bin)
		if !ok {
			t.Fatal("bad packet")
		}
		bin = bin[hdr+len(body):]
		if tag == tagSecretKey || tag == tagSecretSubkey {
			n++
			if _, ok := unlockSecretBody(body, []byte(testPassphrase), derived); !ok {
				t.Fatal("secret packet not unlocked")
			}
		}
	}
	if n != 2 || len(derived) != 1 {
		t.Fatalf("%d secret packets, %d derivations; want 2 and 1", n, len(derived))
	}
}

// BenchmarkUnlock unlocks a curve25519 team key protected as secgate init
// protects it, by ParsePrivateKey and by go-crypto alone.
func BenchmarkUnlock(b *testing.B) {
	pass := []byte(testPassphrase)
	key := []byte(armorPrivate(b, testKey(b, "alice"), pass))
	b.Run("secgate", func(b *testing.B) {
		for b.Loop() {
			if _, err := ParsePrivateKey(key, pass); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("go-crypto", func(b *testing.B) {
		for b.Loop() {
			if _, err := goCryptoUnlock(key, pass); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// FuzzUnlockPackets: whatever the packets, unlockPackets never panics, and
// a key it unlocks is one go-crypto unlocks to the same key with the same
// passphrase.
func FuzzUnlockPackets(f *testing.F) {
	pass := []byte(testPassphrase)
	cheap := &packet.Config{S2KConfig: &s2k.Config{S2KMode: s2k.IteratedSaltedS2K, Hash: gocrypto.SHA256, S2KCount: 1024}}
	f.Add(protect(f, testKey(f, "alice"), pass, cheap))
	f.Fuzz(func(t *testing.T, key []byte) {
		if !cheapS2K(key) {
			return // a count of up to 65 MiB hashed a derivation: too slow to fuzz, no other path
		}
		if _, ok := unlockPackets(key, pass); !ok {
			return
		}
		e, err := readEntity(key)
		if err != nil || !locked(e) {
			return
		}
		u := unlockFast(key, pass, e)
		if u == nil {
			return
		}
		want, err := goCryptoUnlock(key, pass)
		if err != nil {
			t.Fatalf("unlocked here, not by go-crypto: %v", err)
		}
		if !bytes.Equal(unlockedBytes(t, u), unlockedBytes(t, want)) {
			t.Fatal("unlocked to another key than go-crypto's")
		}
	})
}

// cheapS2K reports whether every iterated S2K of key's secret key packets
// hashes at most 1 MiB.
func cheapS2K(key []byte) bool {
	for len(key) > 0 {
		tag, hdr, body, ok := nextPacket(key)
		if !ok {
			return true
		}
		key = key[hdr+len(body):]
		if tag != tagSecretKey && tag != tagSecretSubkey {
			continue
		}
		pub, ok := publicPart(body)
		if !ok {
			continue
		}
		if rest := body[len(pub):]; len(rest) > 12 && rest[2] == s2kIterSalted && s2kCount(rest[12]) > 1<<20 {
			return false
		}
	}
	return true
}
