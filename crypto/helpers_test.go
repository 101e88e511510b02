package crypto

import (
	"github.com/ProtonMail/go-crypto/openpgp/clearsign"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
	"io"

	"strings"
	"sync"
	"testing"
	"time"
)

// t0 is the fixed time of the tests.
var t0 = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)

var (
	keyMu    sync.Mutex
	keyCache = map[string]*Key{}
)

// testKey returns a cached x25519 key made at t0 for name.
func testKey(t testing.TB, name string) *Key {
	t.Helper()
	keyMu.Lock()
	defer keyMu.Unlock()
	if k, ok := keyCache[name]; ok {
		return k
	}
	k, err := GenerateKey(strings.Title(name), name+"@example.org", GenerateOptions{Created: t0.Add(-time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	keyCache[name] = k
	return k
}

const textEntityCRLF = "Content-Type: text/plain; charset=utf-8\r\n\r\nHello team,\r\nthe embargo ends Tuesday.\r\n"

func clearsignEncode(w io.Writer, k *Key, cfg *packet.Config) (io.WriteCloser, error) {
	sk, _ := k.entity.SigningKey(cfg.Now())
	return clearsign.Encode(w, sk.PrivateKey, cfg)
}

// entityOf is s.Entity for tests.
func entityOf(t testing.TB, s *Signed) []byte {
	t.Helper()
	e, err := s.Entity()
	if err != nil {
		t.Fatal(err)
	}
	return e
}
