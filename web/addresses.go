package web

import (
	"context"
	"fmt"
	"regexp"
	"strings"
)

// addresses says which addresses the view may write out: the team's
// address, its members' and the lists' recipients'. Any other address
// (a reporter's, one a command added to a case) is stored in clear for
// delivery but is not the team's to show: it reads as "reporter" or
// "other address N".
type addresses struct {
	known    map[string]bool
	reporter string
	others   map[string]int
}

// knownAddresses reads p's team and lists.
func knownAddresses(ctx context.Context, p Project) (*addresses, error) {
	a := &addresses{known: map[string]bool{strings.ToLower(p.Team): true}, others: map[string]int{}}
	team, err := p.Directory.Team(ctx)
	if err != nil {
		return nil, fmt.Errorf("web: team of %s: %w", p.Name, err)
	}
	for _, m := range team {
		a.known[strings.ToLower(m.Address)] = true
	}
	lists, err := p.Directory.Lists(ctx)
	if err != nil {
		return nil, fmt.Errorf("web: lists of %s: %w", p.Name, err)
	}
	for _, li := range lists {
		l, err := p.Directory.List(ctx, li.Name)
		if err != nil {
			return nil, fmt.Errorf("web: list %s of %s: %w", li.Name, p.Name, err)
		}
		for _, r := range l.Recipients {
			a.known[strings.ToLower(r.Address)] = true
		}
	}
	return a, nil
}

// forCase returns a copy of a that names reporter as "reporter".
func (a *addresses) forCase(reporter string) *addresses {
	return &addresses{known: a.known, reporter: strings.ToLower(reporter), others: map[string]int{}}
}

// show returns addr if the view may show it, else what stands for it.
func (a *addresses) show(addr string) string {
	l := strings.ToLower(strings.TrimSpace(addr))
	switch {
	case l == "":
		return "–"
	case a.known[l]:
		return addr
	case a.reporter != "" && l == a.reporter:
		return "reporter"
	}
	n, ok := a.others[l]
	if !ok {
		n = len(a.others) + 1
		a.others[l] = n
	}
	return fmt.Sprintf("other address %d", n)
}

// addressIn finds what reads as an address in a text.
var addressIn = regexp.MustCompile(`[^\s<>"'(),;:\[\]]+@[^\s<>"'(),;:\[\]]+[^\s<>"'(),;:\[\].]`)

// text returns s with every address in it as show writes it: a
// quarantine reason or a key's problem may quote a sender's.
func (a *addresses) text(s string) string {
	return addressIn.ReplaceAllStringFunc(s, a.show)
}
