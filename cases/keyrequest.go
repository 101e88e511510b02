package cases

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/secgate/secgate/distlist"
)

// keyRequester is what address-only additions need of the directory:
// /list add LIST ADDRESS without a key asks for the address's key from
// its Web Key Directory (the gateway fetches it outside the command's
// transaction and sends every member the fingerprint), and /list confirm
// LIST ADDRESS FINGERPRINT adds the entry with that key once a member has
// checked the fingerprint with the key's holder. *distlist.Directory has
// it.
type keyRequester interface {
	RequestKey(ctx context.Context, tx *sql.Tx, list, addr, by, confirmed string) (int64, error)
	ConfirmKey(ctx context.Context, tx *sql.Tx, list, addr, fingerprint, by, src string) ([]string, error)
}

// fingerprintPattern is a v4 (40 hex digits) or v6 (64) key fingerprint.
var fingerprintPattern = regexp.MustCompile(`^([0-9A-F]{40}|[0-9A-F]{64})$`)

// checkConfirm validates /list confirm LIST ADDRESS FINGERPRINT: the
// fingerprint may be written in groups, as keys print it.
func checkConfirm(c *Command) error {
	if len(c.Args) < 4 {
		return errors.New("write /list confirm LIST ADDRESS FINGERPRINT, the fingerprint every member was sent")
	}
	fpr := distlist.NormalizeFingerprint(strings.Join(c.Args[3:], " "))
	if !fingerprintPattern.MatchString(fpr) {
		return fmt.Errorf("%q is not a key fingerprint (40 or 64 hexadecimal digits)", short(strings.Join(c.Args[3:], " ")))
	}
	c.Args = append(c.Args[:3], fpr)
	return nil
}

// requestKey asks for addr's key from its Web Key Directory: nothing is
// added until a member confirms the fingerprint found.
func (s *session) requestKey(ctx context.Context, list, addr string) error {
	kr, ok := s.w.dir.(keyRequester)
	if !ok {
		return errors.New("no key: attach the recipient's public key or paste it armored below the command")
	}
	if _, err := kr.RequestKey(ctx, s.tx, list, addr, s.member.Fingerprint, ""); err != nil {
		return err
	}
	_, domain, _ := strings.Cut(addr, "@")
	s.done = append(s.done, fmt.Sprintf("%s's key is being looked up in the Web Key Directory of %s (no key was attached): every member will be sent the fingerprint found; "+
		"%s joins %s only once a member has checked it with the key's holder and sent /list confirm %s %s FINGERPRINT", addr, domain, addr, list, list, addr))
	return nil
}

// confirmKey adds the entry the lookup found a key for, when the
// fingerprint is that key's.
func (s *session) confirmKey(ctx context.Context, list, addr, fpr string) error {
	kr, ok := s.w.dir.(keyRequester)
	if !ok {
		return errors.New("key lookups are not available on this gateway")
	}
	warns, err := kr.ConfirmKey(ctx, s.tx, list, addr, fpr, s.member.Fingerprint, distlist.SourceCommand)
	if errors.Is(err, distlist.ErrNotFound) {
		return fmt.Errorf("no key found for %s on %s waits for confirmation (the lookup may still run or have failed; /list add %s %s asks for one)", addr, list, list, addr)
	}
	if err != nil {
		return err
	}
	s.done = append(s.done, fmt.Sprintf("%s added to %s with key %s (from its Web Key Directory, fingerprint confirmed)", addr, list, fpr))
	for _, w := range warns {
		s.extra = append(s.extra, "warning: "+w)
	}
	return nil
}
