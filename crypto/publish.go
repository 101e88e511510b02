package crypto

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"strings"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

// ExportFor returns k's public key in binary form with the one user ID
// that carries addr, every subkey and their signatures: the key a Web Key
// Directory serves and an Autocrypt header offers for that address (both
// ask for the user ID of the address alone). It fails when no user ID
// carries addr, since a client would refuse the key.
func (k *Key) ExportFor(addr string) ([]byte, error) {
	var name string
	for n, id := range k.entity.Identities {
		if id.UserId != nil && strings.EqualFold(id.UserId.Email, addr) {
			name = n
			break
		}
	}
	if name == "" {
		return nil, fmt.Errorf("crypto: export %s for %s: no user ID carries the address", k.Fingerprint(), addr)
	}
	pub := k.Public()
	e := *pub.entity
	e.Identities = map[string]*openpgp.Identity{name: pub.entity.Identities[name]}
	var buf bytes.Buffer
	if err := e.Serialize(&buf); err != nil {
		return nil, fmt.Errorf("crypto: export %s for %s: %w", k.Fingerprint(), addr, err)
	}
	return buf.Bytes(), nil
}

// AutocryptHeader returns the value of an Autocrypt header field (Autocrypt
// Level 1) offering k for addr: "addr=ADDR; prefer-encrypt=mutual;
// keydata=BASE64", the base64 cut into words of 64 characters so that the
// field folds (whitespace in keydata is ignored by readers).
func (k *Key) AutocryptHeader(addr string) (string, error) {
	bin, err := k.ExportFor(addr)
	if err != nil {
		return "", err
	}
	b64 := base64.StdEncoding.EncodeToString(bin)
	var words []string
	for len(b64) > 64 {
		words = append(words, b64[:64])
		b64 = b64[64:]
	}
	words = append(words, b64)
	return "addr=" + strings.ToLower(addr) + "; prefer-encrypt=mutual; keydata=" + strings.Join(words, " "), nil
}

// Refreshes reports whether fresh is a later state of the same key as k,
// to replace k when a key is refreshed from where its holder publishes
// it: the same primary key, not revoked where k is (a copy from before a
// revocation would undo it), and self-signed no earlier than k (an older
// copy would bring back an expiry or a subkey k no longer has).
func (k *Key) Refreshes(fresh *Key) bool {
	if fresh.Fingerprint() != k.Fingerprint() {
		return false
	}
	if len(k.entity.Revocations) > len(fresh.entity.Revocations) {
		return false
	}
	return !fresh.selfSigned().Before(k.selfSigned())
}

// selfSigned is the time of k's newest self-signature: its direct-key
// signature, user ID certifications and subkey bindings.
func (k *Key) selfSigned() time.Time {
	var t time.Time
	later := func(s *packet.Signature) {
		if s != nil && s.CreationTime.After(t) {
			t = s.CreationTime
		}
	}
	later(k.entity.SelfSignature)
	for _, id := range k.entity.Identities {
		later(id.SelfSignature)
	}
	for _, sk := range k.entity.Subkeys {
		later(sk.Sig)
	}
	return t
}
