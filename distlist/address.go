package distlist

import (
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/secgate/secgate/templates"
)

// CanonicalAddress returns the address s names in the one form secgate
// stores, compares and sends to: the addr-spec alone (a display name is
// dropped), in lower case, its local part quoted only when it must be
// (RFC 5321 section 4.1.2): rita@example.org, "john q doe"@example.org,
// δοκιμή@παράδειγμα.δοκιμή. That form goes as it is into SMTP MAIL and RCPT,
// and it is an address of its own: CanonicalAddress returns it unchanged.
//
// s is read as a header field would be: a mailbox of RFC 5322, with or
// without a display name, UTF-8 allowed (RFC 6532). A string that does not
// parse so is also read as net/mail writes an address it decoded
// (mail.Address.Address, the local part unquoted: "john q doe@example.org"),
// but only when that local part has nothing but atext, dots and spaces. A
// string holding angle brackets, commas, quotes or a second @ is never taken
// apart to find an address in it: "<a@b>@evil.example" is an error, never
// a@b. An address with a control character, or with a character that
// templates.Visible would show (a bidi control, a zero-width character), is
// refused. Errors wrap ErrBadAddress.
func CanonicalAddress(s string) (string, error) {
	a, err := mail.ParseAddress(s)
	if err != nil {
		a, err = parseDecoded(strings.TrimSpace(s))
	}
	if err != nil {
		return "", fmt.Errorf("%w: %q", ErrBadAddress, s)
	}
	addr := strings.ToLower(a.Address)
	if strings.IndexFunc(addr, unicode.IsControl) >= 0 || templates.Visible(addr) != addr {
		return "", fmt.Errorf("%w: %q holds a control or invisible character", ErrBadAddress, s)
	}
	if at := strings.LastIndexByte(addr, '@'); at <= 0 || at == len(addr)-1 {
		return "", fmt.Errorf("%w: %q", ErrBadAddress, s)
	}
	// An Address without a name formats as <addr-spec>, the local part
	// quoted when it is not a dot-atom.
	spec := (&mail.Address{Address: addr}).String()
	spec = spec[1 : len(spec)-1]
	if back, err := mail.ParseAddress(spec); err != nil || back.Address != addr {
		return "", fmt.Errorf("%w: %q", ErrBadAddress, s)
	}
	return spec, nil
}

// errNotDecoded is parseDecoded's refusal; CanonicalAddress reports
// ErrBadAddress.
var errNotDecoded = errors.New("not an address as net/mail decodes one")

// parseDecoded reads s as net/mail's Address.Address: local@domain with the
// local part unquoted. Only a local part of atext, dots and spaces is
// taken; its quoted form must parse back to s.
func parseDecoded(s string) (*mail.Address, error) {
	at := strings.LastIndexByte(s, '@')
	if at <= 0 {
		return nil, errNotDecoded
	}
	for _, r := range s[:at] {
		if r != ' ' && r != '.' && !isAtext(r) {
			return nil, errNotDecoded
		}
	}
	a, err := mail.ParseAddress((&mail.Address{Address: s}).String())
	if err != nil || a.Address != s {
		return nil, errNotDecoded
	}
	return a, nil
}

// isAtext reports whether r is atext (RFC 5322 section 3.2.3), UTF-8
// included (RFC 6532 section 3.2).
func isAtext(r rune) bool {
	switch {
	case r >= utf8.RuneSelf:
		return true
	case 'a' <= r && r <= 'z', 'A' <= r && r <= 'Z', '0' <= r && r <= '9':
		return true
	}
	return strings.ContainsRune("!#$%&'*+-/=?^_`{|}~", r)
}

// SameAddress reports whether a and b are addresses (see CanonicalAddress)
// and name the same mailbox.
func SameAddress(a, b string) bool {
	x, err := CanonicalAddress(a)
	if err != nil {
		return false
	}
	y, err := CanonicalAddress(b)
	return err == nil && x == y
}

// splitAddress splits a canonical address at its last @: a quoted local
// part may hold one.
func splitAddress(addr string) (local, domain string) {
	at := strings.LastIndexByte(addr, '@')
	if at < 0 {
		return addr, ""
	}
	return addr[:at], addr[at+1:]
}

// isASCII reports whether s is ASCII alone: an address that is not needs
// SMTPUTF8 (RFC 6531).
func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}
