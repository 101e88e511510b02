package crypto

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/clearsign"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

// WithPrevious returns k with the keys it succeeded, prev: a detached
// signature (an audit head) made by one of them verifies as k's, and
// those of prev that are private also decrypt for k: a message, or data
// stored at rest, encrypted to any of them opens (and names one of them
// as its intended recipient). Everything else is k's own: its
// fingerprint, what it signs, what it encrypts to. It is how the team key
// is used after a rotation.
func (k *Key) WithPrevious(prev ...*Key) *Key {
	c := *k
	c.previous = nil
	for _, p := range prev {
		if p != nil && p.Fingerprint() != k.Fingerprint() {
			c.previous = append(c.previous, p.entity)
		}
	}
	return &c
}

// lineage is k's public key and those of the keys it succeeded.
func (k *Key) lineage() []*Key {
	keys := []*Key{{entity: publicEntity(k.entity)}}
	for _, e := range k.previous {
		keys = append(keys, &Key{entity: publicEntity(e)})
	}
	return keys
}

// Previous lists the fingerprints of the keys WithPrevious added.
func (k *Key) Previous() []string {
	var fprs []string
	for _, e := range k.previous {
		fprs = append(fprs, fmt.Sprintf("%X", e.PrimaryKey.Fingerprint))
	}
	return fprs
}

// decryptionKeys are the entities that decrypt for k: its own and its
// previous ones that are private.
func decryptionKeys(k *Key) openpgp.EntityList {
	if k == nil {
		return nil
	}
	el := openpgp.EntityList{k.entity}
	for _, e := range k.previous {
		if e.PrivateKey != nil {
			el = append(el, e)
		}
	}
	return el
}

// TransitionStatement clearsigns text with both keys, old first: the
// statement a key transition publishes, which anyone holding the old key
// can check was made by its holder and names the new one (gpg --verify
// shows both signatures). Both keys must be private and able to sign at
// at.
func TransitionStatement(text []byte, old, new *Key, at time.Time) ([]byte, error) {
	var keys []*packet.PrivateKey
	for _, k := range []*Key{old, new} {
		if !k.private {
			return nil, fmtErr("transition statement", fmt.Errorf("key %s: %w", k.Fingerprint(), ErrNotPrivate))
		}
		sk, ok := k.entity.SigningKey(at)
		if !ok {
			return nil, fmtErr("transition statement", fmt.Errorf("key %s: %w", k.Fingerprint(), ErrNoSignKey))
		}
		keys = append(keys, sk.PrivateKey)
	}
	var out bytes.Buffer
	w, err := clearsign.EncodeMulti(&out, keys, baseConfig(at))
	if err != nil {
		return nil, fmtErr("transition statement", err)
	}
	if _, err := w.Write(text); err != nil {
		return nil, fmtErr("transition statement", err)
	}
	if err := w.Close(); err != nil {
		return nil, fmtErr("transition statement", err)
	}
	// go-crypto armors the signatures without the CRC24 checksum, which
	// gpg 2.2 cannot read: armor them again as every signature here is.
	blk, _ := clearsign.Decode(out.Bytes())
	if blk == nil {
		return nil, fmtErr("transition statement", errors.New("clearsign output does not decode"))
	}
	sigs, err := io.ReadAll(blk.ArmoredSignature.Body)
	if err != nil {
		return nil, fmtErr("transition statement", err)
	}
	arm, err := armorString("PGP SIGNATURE", sigs)
	if err != nil {
		return nil, fmtErr("transition statement", err)
	}
	cut := bytes.Index(out.Bytes(), []byte("-----BEGIN PGP SIGNATURE-----"))
	return append(out.Bytes()[:cut:cut], arm...), nil
}

// PreviousKey returns the key k succeeded with fingerprint fpr, nil if
// none.
func (k *Key) PreviousKey(fpr string) *Key {
	for _, e := range k.previous {
		if fmt.Sprintf("%X", e.PrimaryKey.Fingerprint) == fpr {
			return &Key{entity: e, private: e.PrivateKey != nil, boundary: k.boundary}
		}
	}
	return nil
}
