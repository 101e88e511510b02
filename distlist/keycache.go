package distlist

import (
	"crypto/sha256"
	"sync"

	"github.com/secgate/secgate/crypto"
)

// maxCachedKeys bounds a keyCache; past it the cache starts afresh.
const maxCachedKeys = 1 << 16

// keyCache keeps parsed public keys by a hash of their stored armored form,
// for a Directory and the Outbox built on it (a key parsed when a list is
// read is not parsed again when each row is sent):
// a key read again is not parsed again (parsing checks every binding
// signature), and any change of the stored key (new expiry, revocation)
// is a new entry.
type keyCache struct {
	mu sync.Mutex
	m  map[[32]byte]*crypto.Key
}

func newKeyCache() *keyCache { return &keyCache{m: map[[32]byte]*crypto.Key{}} }

// parse returns the parsed public key of armored.
func (c *keyCache) parse(armored []byte) (*crypto.Key, error) {
	sum := sha256.Sum256(armored)
	c.mu.Lock()
	k, ok := c.m[sum]
	c.mu.Unlock()
	if ok {
		return k, nil
	}
	k, err := crypto.ParsePublicKey(armored)
	if err != nil {
		return nil, err
	}
	c.add(sum, k)
	return k, nil
}

// put records that armored is the stored form of the parsed key k.
func (c *keyCache) put(armored []byte, k *crypto.Key) { c.add(sha256.Sum256(armored), k) }

func (c *keyCache) add(sum [32]byte, k *crypto.Key) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= maxCachedKeys {
		clear(c.m)
	}
	c.m[sum] = k
}
