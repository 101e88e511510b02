package crypto

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/ProtonMail/go-crypto/openpgp/packet"
	openpgp2 "github.com/ProtonMail/go-crypto/openpgp/v2"
)

func v2Entity(t *testing.T, k *Key) *openpgp2.Entity {
	t.Helper()
	var buf bytes.Buffer
	if err := k.entity.SerializePrivateWithoutSigning(&buf, nil); err != nil {
		t.Fatal(err)
	}
	e, err := openpgp2.ReadEntity(packet.NewReader(&buf))
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// TestIntendedRecipient: a signed message whose signature names another
// intended recipient (RFC 9580) was forwarded to us by that recipient; its
// signature does not count.
func TestIntendedRecipient(t *testing.T) {
	team, alice, bob := testKey(t, "team"), testKey(t, "alice"), testKey(t, "bob")
	encrypt := func(to, hidden []*Key) []byte {
		var ents, hid []*openpgp2.Entity
		for _, k := range to {
			ents = append(ents, v2Entity(t, k))
		}
		for _, k := range hidden {
			hid = append(hid, v2Entity(t, k))
		}
		var out bytes.Buffer
		w, err := openpgp2.Encrypt(&out, ents, hid, []*openpgp2.Entity{v2Entity(t, alice)}, nil, baseConfig(t0))
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte(textEntityCRLF))
		w.Close()
		return pgpMIME(mustArmor(t, out.Bytes()))
	}
	opts := OpenOptions{Decrypt: team, Verifiers: []*Key{alice.Public()}, Now: t0}
	o, err := Open(encrypt([]*Key{team}, nil), opts)
	if err != nil || o.Signature == nil || o.Signature.Err != nil || !o.Signature.IntendedForUs {
		t.Fatalf("intended for us: %+v %v", o, err)
	}
	o, err = Open(encrypt([]*Key{bob}, []*Key{team}), opts)
	if err != nil {
		t.Fatal(err)
	}
	if o.Signature == nil || !errors.Is(o.Signature.Err, ErrBadSignature) || !strings.Contains(o.Signature.Err.Error(), "intended recipients") {
		t.Fatalf("intended for bob, opened by the team: signature %+v", o.Signature)
	}
}

// TestCheckIntended: the binding every kind of signature gets (one-pass,
// PGP/MIME detached, cleartext): naming the team key binds it to us,
// naming only others refuses it, naming nobody says nothing.
func TestCheckIntended(t *testing.T) {
	team, bob := testKey(t, "team"), testKey(t, "bob")
	recipient := func(k *Key) *packet.Recipient {
		return &packet.Recipient{KeyVersion: k.entity.PrimaryKey.Version, Fingerprint: k.entity.PrimaryKey.Fingerprint}
	}
	tests := []struct {
		name      string
		named     []*packet.Recipient
		forUs, ok bool
	}{
		{"none named", nil, false, true},
		{"the team key", []*packet.Recipient{recipient(team)}, true, true},
		{"the team's encryption subkey", []*packet.Recipient{{KeyVersion: 4, Fingerprint: team.entity.Subkeys[0].PublicKey.Fingerprint}}, true, true},
		{"bob and the team", []*packet.Recipient{recipient(bob), recipient(team)}, true, true},
		{"bob only", []*packet.Recipient{recipient(bob)}, false, false},
	}
	for _, tc := range tests {
		s := &Signature{}
		checkIntended(s, &packet.Signature{IntendedRecipients: tc.named}, team)
		if s.IntendedForUs != tc.forUs || (s.Err == nil) != tc.ok {
			t.Errorf("%s: intended for us %v, err %v", tc.name, s.IntendedForUs, s.Err)
		}
	}
}
