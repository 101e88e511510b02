package crypto

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// testPassphrase protects the test-only private keys under testdata/.
const testPassphrase = "secgate-test-only-passphrase"

// TestGenerateTestdataKeys rewrites the RSA-3072 test keys (slow to make,
// so they are kept). Run with SECGATE_REGEN_KEYS=1.
func TestGenerateTestdataKeys(t *testing.T) {
	if os.Getenv("SECGATE_REGEN_KEYS") == "" {
		t.Skip("set SECGATE_REGEN_KEYS=1 to regenerate testdata keys")
	}
	created := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, name := range []string{"team-rsa", "member-rsa"} {
		k, err := GenerateKey(name, name+"@example.org", GenerateOptions{Algorithm: "rsa", Bits: 3072, Created: created})
		if err != nil {
			t.Fatal(err)
		}
		arm, err := k.ArmorPrivate([]byte(testPassphrase))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join("testdata", name+".sec.asc"), []byte(arm), 0o600); err != nil {
			t.Fatal(err)
		}
	}
}
