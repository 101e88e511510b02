package distlist

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base32"
	"errors"
	"fmt"
	"strings"

	"github.com/secgate/secgate/store"
)

// b32 is lower-case base32 without padding: safe in local parts that MTAs
// may lower-case, and in Message-IDs.
var b32 = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// loadSecret returns the per-install HMAC secret, creating it on first use.
func loadSecret(ctx context.Context, db *store.DB) ([]byte, error) {
	var s []byte
	err := db.Tx(ctx, func(tx *sql.Tx) error {
		err := tx.QueryRowContext(ctx, `SELECT secret FROM outbox_secret WHERE id = 1`).Scan(&s)
		if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		s = make([]byte, 32)
		rand.Read(s)
		_, err = tx.ExecContext(ctx, `INSERT INTO outbox_secret (id, secret) VALUES (1, ?)`, s)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("distlist: outbox secret: %w", err)
	}
	return s, nil
}

// mac is HMAC-SHA256 over purpose, notice and recipient, NUL-separated.
func mac(secret []byte, purpose, notice, rcpt string) []byte {
	h := hmac.New(sha256.New, secret)
	h.Write([]byte(purpose + "\x00" + notice + "\x00" + rcpt))
	return h.Sum(nil)
}

// messageID is the stable Message-ID (without <>) of a (notice, recipient)
// pair: random-looking, deterministic, and revealing neither.
func messageID(secret []byte, notice, rcpt, domain string) string {
	return b32.EncodeToString(mac(secret, "message-id", notice, rcpt))[:26] + "@" + domain
}

// isMessageID reports whether id (without <>) has the shape of what
// messageID makes: 26 characters of b32, then '@'. Every outbox row's
// Message-ID has it, so looking up any other finds nothing: a report's
// own Message-ID, say, costs no statement.
func isMessageID(id string) bool {
	local, _, ok := strings.Cut(id, "@")
	if !ok || len(local) != 26 {
		return false
	}
	for i := range len(local) {
		if c := local[i]; (c < 'a' || c > 'z') && (c < '2' || c > '7') {
			return false
		}
	}
	return true
}

// verpToken is the envelope-sender token of a (notice, recipient) pair.
func verpToken(secret []byte, notice, rcpt string) string {
	return b32.EncodeToString(mac(secret, "verp", notice, rcpt))[:20]
}

// envelopeFrom puts token into the local part of base: local+token@domain.
// base is the configured bounce address (Config.Validate checked it).
func envelopeFrom(base, token string) string {
	b, err := CanonicalAddress(base)
	if err != nil {
		b = base
	}
	local, domain := splitAddress(b)
	return local + "+" + token + "@" + domain
}

// tokenFromAddress extracts the VERP token from an address built by
// envelopeFrom with the same base, or "". addr is parsed as an address
// (CanonicalAddress), never cut at angle brackets.
func tokenFromAddress(base, addr string) string {
	b, err := CanonicalAddress(base)
	if err != nil {
		return ""
	}
	a, err := CanonicalAddress(addr)
	if err != nil {
		return ""
	}
	local, domain := splitAddress(b)
	l, d := splitAddress(a)
	if d != domain {
		return ""
	}
	tok, ok := strings.CutPrefix(l, local+"+")
	if !ok || !isToken(tok) {
		return ""
	}
	return tok
}

// isToken reports whether s has the form of a VERP token.
func isToken(s string) bool {
	return len(s) == 20 && strings.Trim(s, "abcdefghijklmnopqrstuvwxyz234567") == ""
}
