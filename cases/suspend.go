package cases

import (
	"context"
	"errors"
	"fmt"

	"github.com/secgate/secgate/distlist"
	"github.com/secgate/secgate/templates"
)

// suspend runs /list suspend ADDRESS REASON and /list reinstate ADDRESS:
// a suspended distributor gets no notice of any case on any list until
// reinstated (the outbox enforces it, distlist.Directory.Suspend).
func (s *session) suspend(ctx context.Context, cmd *Command) error {
	dir, err := s.w.appDir()
	if err != nil {
		return err
	}
	addr := cmd.Args[1]
	if cmd.Args[0] == "reinstate" {
		if err := dir.Reinstate(ctx, s.tx, addr); err != nil {
			if errors.Is(err, distlist.ErrNotFound) {
				return fmt.Errorf("%s is not suspended", addr)
			}
			return err
		}
		s.done = append(s.done, fmt.Sprintf("%s reinstated: the notices that follow reach them again", addr))
		return nil
	}
	reason := afterFields(cmd.Rest, 2)
	n, err := dir.Suspend(ctx, s.tx, addr, reason, s.actor)
	switch {
	case errors.Is(err, distlist.ErrNotFound):
		return fmt.Errorf("%s is on no embargo list", addr)
	case errors.Is(err, distlist.ErrSuspended):
		return fmt.Errorf("%s is suspended already", addr)
	case err != nil:
		return err
	}
	s.sealedDone(fmt.Sprintf("%s suspended: no notice reaches them until reinstated (%s withdrawn)", addr, templates.Count(int(n), "waiting notice")),
		"%s suspended (%s): no notice of any case reaches them until /list reinstate %s (%s withdrawn)",
		addr, short(reason), addr, templates.Count(int(n), "waiting notice"))
	return nil
}

// tellRemoved tells addr, removed from list l, that it gets no further
// notices from it: encrypted to the key the list held for them when it can
// be, signed in clear otherwise.
func (s *session) tellRemoved(ctx context.Context, l *distlist.List, addr string) (string, error) {
	var r distlist.Recipient
	for _, x := range l.Recipients {
		if distlist.SameAddress(x.Address, addr) {
			r = x
		}
	}
	d := s.w.data(nil, s.team)
	d.Recipient = templates.Person{Address: addr}
	d.Application = templates.ApplicationData{List: l.Name, Address: addr}
	return s.toDistributor(ctx, templates.ListRemoved, "list-removed-"+l.Name, d, r.Key, r.Key != nil && r.KeyErr == nil)
}
