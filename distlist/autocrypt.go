package distlist

import (
	"log/slog"
	"net/mail"
	"strings"

	"github.com/secgate/secgate/crypto"
)

// autocrypt is the Autocrypt header field (Autocrypt Level 1) every mail
// from the team address carries: the team key with the user ID of that
// address alone, so that a reporter's mail client learns it from the
// first answer and encrypts what follows.
type autocrypt struct {
	addr  string // the From address, canonical
	value string // the field's value
}

// autocryptFor builds the field for from. A team key none of whose user
// IDs is the address sends no field (a client would refuse the key for
// it), and says so once.
func autocryptFor(team *crypto.Key, from string, log *slog.Logger) autocrypt {
	addr, err := CanonicalAddress(from)
	if err != nil {
		return autocrypt{}
	}
	v, err := team.AutocryptHeader(addr)
	if err != nil {
		log.Warn("distlist: no Autocrypt header: the team key has no user ID with the From address", "from", addr, "key", team.Fingerprint())
		return autocrypt{}
	}
	return autocrypt{addr: addr, value: v}
}

// forFrom returns the field's value for a message From formatted (as
// headerAddress writes it), or "" when it is not from the team address.
func (a autocrypt) forFrom(formatted string) string {
	if a.value == "" {
		return ""
	}
	p, err := mail.ParseAddress(formatted)
	if err != nil || !strings.EqualFold(p.Address, a.addr) {
		return ""
	}
	return a.value
}
