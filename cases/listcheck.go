package cases

import (
	"errors"
	"fmt"
	"net/mail"
	"regexp"
	"strings"
)

// appPattern is an application's reference.
var appPattern = regexp.MustCompile(`^APP-[0-9]{4}-[0-9]{4,6}$`)

// checkList validates the arguments of /list: add|remove LIST ADDRESS,
// approve APP-ID, deny APP-ID REASON, suspend ADDRESS REASON, reinstate
// ADDRESS, confirm LIST ADDRESS FINGERPRINT. Only add takes a key.
func checkList(c *Command) error {
	args := c.Args
	if len(args) < 2 {
		return errUsage
	}
	address := func(i int) error {
		a, err := mail.ParseAddress(args[i])
		if err != nil || a.Name != "" {
			return fmt.Errorf("%q is not an address", short(args[i]))
		}
		c.Args[i] = a.Address
		return nil
	}
	app := func() error {
		c.Args[1] = strings.ToUpper(args[1])
		if !appPattern.MatchString(c.Args[1]) {
			return fmt.Errorf("%q is not an application ID (APP-YYYY-NNNN)", short(args[1]))
		}
		return nil
	}
	if args[0] != "add" && c.Text != "" {
		return fmt.Errorf("/list %s takes no key", short(args[0]))
	}
	switch args[0] {
	case "add", "remove":
		if len(args) != 3 {
			return errUsage
		}
		return address(2)
	case "confirm":
		if err := checkConfirm(c); err != nil {
			return err
		}
		return address(2)
	case "approve":
		if len(args) != 2 {
			return errUsage
		}
		return app()
	case "deny":
		if len(args) < 3 {
			return errors.New("/list deny needs a reason, which the applicant is sent")
		}
		return app()
	case "suspend":
		if len(args) < 3 {
			return errors.New("/list suspend needs a reason")
		}
		return address(1)
	case "reinstate":
		if len(args) != 2 {
			return errUsage
		}
		return address(1)
	}
	return errUsage
}

// afterFields is what follows the first n fields of rest, trimmed: the
// free text of "/list deny APP-ID REASON" after "deny APP-ID".
func afterFields(rest string, n int) string {
	for range n {
		rest = strings.TrimLeft(rest, " \t")
		i := strings.IndexAny(rest, " \t")
		if i < 0 {
			return ""
		}
		rest = rest[i:]
	}
	return strings.TrimSpace(rest)
}
