package intake

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/emersion/go-message/mail"
	"github.com/emersion/go-message/textproto"
)

// ClassRoute is the class of a message held because no project, or more
// than one, owns the addresses it was sent to (a shared mailbox).
const ClassRoute = "route"

// DefaultSeparators is the separator of plus-addressing:
// security+anything@example.org is security@example.org.
const DefaultSeparators = "+"

// ProjectAddresses names the addresses whose mail is one project's.
type ProjectAddresses struct {
	Project   string
	Addresses []string
}

// Router decides which project a message in a mailbox shared by several
// projects belongs to, from the addresses it was sent to. It is a pure
// function of its configuration and the message's header.
//
// The receiving MTA's record of the envelope decides first: the topmost
// Delivered-To field (Dovecot's LMTP writes the RCPT TO address there,
// +detail included, as the real stack's tests show), then the topmost
// X-Original-To (Postfix's local and virtual delivery). Only the topmost
// of each: the MTA puts its own above the fields the message came with,
// and a sender can write any number of them below. Then the header's To
// and Cc, which the sender writes.
//
// An address is compared ignoring case, the local part too (as Postfix
// and Dovecot deliver Security+A@ to security+a@; RFC 5321 lets a server
// tell them apart, but no MTA in front of a shared mailbox does, and a
// report held for its capital letters helps nobody), and names a project
// when it is one of its addresses or
// one of them with a detail after a separator (security+anything@ is
// security@; the longest address matches, so security+a@ may be one
// project's and security@ another's).
//
// The outcome, in order:
//   - the envelope names a project and To/Cc name no other: that project;
//   - the envelope names a project and To/Cc name it and another: held in
//     that project's quarantine, as mail sent to several projects at once
//     (people decide who handles it; the projects' teams do not see each
//     other's mail);
//   - the envelope names a project and To/Cc name only others: that
//     project, with a note that the header named another project's address
//     (an outsider writes the header, never the envelope; a Bcc or a
//     forward looks the same);
//   - the envelope names two projects: held, as mail for several projects;
//   - the envelope names none: To/Cc decide, when they name exactly one
//     project; several are held as mail for several projects, none as mail
//     no project owns (both in the default project's quarantine).
//
// A held message is never answered: mail nobody owns has nobody to answer
// for it.
type Router struct {
	seps  string
	owner map[string]string // address in lower case -> project
}

// NewRouter returns a router over projects; separators are the characters
// that begin a detail (plus-addressing), DefaultSeparators when empty. An
// address may belong to one project only.
func NewRouter(projects []ProjectAddresses, separators string) (*Router, error) {
	if separators == "" {
		separators = DefaultSeparators
	}
	if strings.ContainsAny(separators, "@\"\\ \t\r\n") {
		return nil, fmt.Errorf("intake: route: separators %q: want characters of a local part, such as + or -", separators)
	}
	r := &Router{seps: separators, owner: map[string]string{}}
	seen := map[string]bool{}
	for _, p := range projects {
		if p.Project == "" {
			return nil, errors.New("intake: route: a project without a name")
		}
		if seen[p.Project] {
			return nil, fmt.Errorf("intake: route: project %q is named twice", p.Project)
		}
		seen[p.Project] = true
		if len(p.Addresses) == 0 {
			return nil, fmt.Errorf("intake: route: project %q has no address", p.Project)
		}
		for _, a := range p.Addresses {
			c, ok := routeAddress(a)
			if !ok {
				return nil, fmt.Errorf("intake: route: project %q: %q is not a mail address", p.Project, a)
			}
			c = strings.ToLower(c)
			if other, dup := r.owner[c]; dup && other != p.Project {
				return nil, fmt.Errorf("intake: route: %s is an address of both %q and %q", c, other, p.Project)
			}
			r.owner[c] = p.Project
		}
	}
	return r, nil
}

// Routing is a Router's decision on one message.
type Routing struct {
	// Project is the project whose database stores the message; "" when
	// no project can be told (the default project's quarantine then).
	Project string
	// Quarantined: the message is held with Reason, not processed.
	Quarantined bool
	// Reason says why it is held; for a routed message, a note of what
	// the addresses showed besides the one that decided ("" when nothing).
	Reason string
	// Field and Address are what decided: "Delivered-To" and
	// "security+a@example.org", say; "" when held for no owner.
	Field, Address string
}

// seenAddress is an address found in the header and the project it names.
type seenAddress struct {
	field, addr, project string
}

// maxRouteAddresses bounds the addresses read from To and Cc.
const maxRouteAddresses = 100

// Route decides the project of the message whose raw header (or whole
// raw message) is given.
func (r *Router) Route(raw []byte) Routing {
	th, err := textproto.ReadHeader(bufio.NewReader(io.LimitReader(bytes.NewReader(raw), maxHeaderBytes)))
	if err != nil && th.Len() == 0 {
		return Routing{Quarantined: true, Reason: "no project owns the message: its header does not parse (" + Printable(clip(err.Error(), 200)) + ")"}
	}
	var env []seenAddress
	for _, f := range []string{"Delivered-To", "X-Original-To"} {
		v := th.Get(f) // the topmost: the receiving MTA's
		if v == "" {
			continue
		}
		if a, ok := routeAddress(v); ok {
			env = append(env, seenAddress{f, a, r.project(a)})
		} else {
			env = append(env, seenAddress{f, strings.TrimSpace(v), ""})
		}
	}
	var hdr []seenAddress
	for _, f := range []string{"To", "Cc"} {
		for _, v := range th.Values(f) {
			for _, a := range headerAddresses(v) {
				if len(hdr) < maxRouteAddresses {
					hdr = append(hdr, seenAddress{f, a, r.project(a)})
				}
			}
		}
	}
	envP := named(env)
	hdrP := named(hdr)
	switch {
	case len(envP) > 1:
		return Routing{Quarantined: true, Reason: "sent to several projects at once: the envelope names " + describe(env, true)}
	case len(envP) == 1:
		p := envP[0]
		by := first(env, p)
		rt := Routing{Project: p, Field: by.field, Address: by.addr}
		switch {
		case len(hdrP) == 0 || len(hdrP) == 1 && hdrP[0] == p:
		case slices.Contains(hdrP, p):
			rt.Quarantined = true
			rt.Reason = fmt.Sprintf("sent to several projects at once: delivered for %s (%s), and the header names %s",
				Printable(by.addr), by.field, describe(hdr, true))
		default:
			rt.Reason = fmt.Sprintf("delivered for %s (%s); the header named %s, not this project's address: the envelope decides",
				Printable(by.addr), by.field, describe(hdr, true))
		}
		return rt
	case len(hdrP) == 1:
		by := first(hdr, hdrP[0])
		note := fmt.Sprintf("routed by %s %s: the envelope named no project's address", by.field, Printable(by.addr))
		if len(env) > 0 {
			note = fmt.Sprintf("routed by %s %s: the envelope named %s, no project's address", by.field, Printable(by.addr), describe(env, false))
		}
		return Routing{Project: hdrP[0], Field: by.field, Address: by.addr, Reason: note}
	case len(hdrP) > 1:
		return Routing{Quarantined: true, Reason: "sent to several projects at once: the header names " + describe(hdr, true)}
	}
	all := append(env, hdr...)
	if len(all) == 0 {
		return Routing{Quarantined: true, Reason: "no project owns the message: it names no address (no Delivered-To, X-Original-To, To or Cc)"}
	}
	return Routing{Quarantined: true, Reason: "no project owns " + describe(all, false)}
}

// project returns the project addr (a routeAddress) names: its own
// address, or the longest of its addresses that addr extends with a
// separator and a detail, compared ignoring case; "" when none.
func (r *Router) project(addr string) string {
	addr = strings.ToLower(addr)
	if p, ok := r.owner[addr]; ok {
		return p
	}
	at := strings.LastIndexByte(addr, '@')
	local, domain := addr[:at], addr[at:]
	// The detail begins at a separator; the longest candidate first.
	for i := len(local) - 1; i > 0; i-- {
		if strings.IndexByte(r.seps, local[i]) < 0 {
			continue
		}
		if p, ok := r.owner[local[:i]+domain]; ok {
			return p
		}
	}
	return ""
}

// named returns the projects the addresses name, in the order seen.
func named(as []seenAddress) []string {
	var ps []string
	for _, a := range as {
		if a.project != "" && !slices.Contains(ps, a.project) {
			ps = append(ps, a.project)
		}
	}
	return ps
}

// first returns the first address naming project p.
func first(as []seenAddress, p string) seenAddress {
	for _, a := range as {
		if a.project == p {
			return a
		}
	}
	return seenAddress{}
}

// maxDescribed bounds the addresses a reason lists.
const maxDescribed = 8

// describe lists the addresses for a reason: "To a@x (project a), Cc b@x"
// (with projects), at most maxDescribed of them, each once.
func describe(as []seenAddress, projects bool) string {
	var parts []string
	seen := map[string]bool{}
	n := 0
	for _, a := range as {
		k := a.field + " " + a.addr
		if seen[k] {
			continue
		}
		seen[k] = true
		n++
		if len(parts) == maxDescribed {
			continue
		}
		s := a.field + " " + Printable(clip(a.addr, 120))
		if projects && a.project != "" {
			s += " (project " + a.project + ")"
		}
		parts = append(parts, s)
	}
	if n > len(parts) {
		parts = append(parts, fmt.Sprintf("and %d more", n-len(parts)))
	}
	return strings.Join(parts, ", ")
}

// clip cuts s to at most n bytes, marking the cut.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// routeAddress parses one address (addr-spec, with or without angle
// brackets or a display name) into the form routes compare: the local
// part exactly as written (unquoted), the domain in lower case.
func routeAddress(s string) (string, bool) {
	s = strings.TrimSpace(s)
	a, err := mail.ParseAddress(s)
	if err != nil {
		if !strings.HasPrefix(s, "<") {
			a, err = mail.ParseAddress("<" + s + ">")
		}
		if err != nil {
			return "", false
		}
	}
	at := strings.LastIndexByte(a.Address, '@')
	if at <= 0 || at == len(a.Address)-1 {
		return "", false
	}
	domain := strings.TrimSuffix(strings.ToLower(a.Address[at+1:]), ".")
	if domain == "" {
		return "", false
	}
	return a.Address[:at] + "@" + domain, true
}

// headerAddresses returns the addresses of one To or Cc field, in the
// form routes compare. A list that does not parse as a whole is read item
// by item, so that one broken display name loses no address.
func headerAddresses(v string) []string {
	var h mail.Header
	h.Set("To", v)
	var out []string
	list, err := h.AddressList("To")
	if err == nil {
		for _, a := range list {
			if c, ok := routeAddress(a.Address); ok {
				out = append(out, c)
			}
		}
		return out
	}
	for _, item := range strings.Split(v, ",") {
		item = strings.TrimSpace(item)
		if i := strings.LastIndexByte(item, '<'); i >= 0 && strings.HasSuffix(item, ">") {
			item = item[i:]
		}
		if c, ok := routeAddress(item); ok {
			out = append(out, c)
		}
	}
	return out
}
