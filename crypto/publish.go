package crypto

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"strings"

	"github.com/ProtonMail/go-crypto/openpgp"
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
