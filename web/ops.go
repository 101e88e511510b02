package web

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/secgate/secgate/cases"
	"github.com/secgate/secgate/distlist"
	"github.com/secgate/secgate/intake"
)

// outboxStates are the outbox's states in the order the page shows them.
var outboxStates = []string{distlist.StateQueued, distlist.StateSending, distlist.StateDeferred, distlist.StateFailed,
	distlist.StateBounced, distlist.StateSent}

// outboxLimit is how many rows of each state and project the page shows.
const outboxLimit = 200

type outboxRow struct {
	Project     string
	ID          int64
	Case        string
	Kind        string
	Recipient   string
	Attempts    int
	Created     time.Time
	LastAttempt time.Time
	NextAttempt time.Time
	Finished    time.Time
	Code        int
}

type outboxGroup struct {
	State string
	Rows  []outboxRow
	More  bool // the state has more rows than shown
}

func (h *Handler) outboxPage(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	var groups []outboxGroup
	refs := map[string]map[int64]string{}
	addrs := map[string]*addresses{}
	for _, p := range h.projects {
		var err error
		if refs[p.Name], err = caseRefs(ctx, p); err != nil {
			h.fail(w, http.StatusInternalServerError, "The cases cannot be read.", err)
			return
		}
		if addrs[p.Name], err = knownAddresses(ctx, p); err != nil {
			h.fail(w, http.StatusInternalServerError, "The directory cannot be read.", err)
			return
		}
	}
	for _, st := range outboxStates {
		g := outboxGroup{State: st}
		for _, p := range h.projects {
			rows, err := p.Outbox.Rows(ctx, distlist.RowFilter{State: st, Limit: outboxLimit + 1})
			if err != nil {
				h.fail(w, http.StatusInternalServerError, "The outbox cannot be read.", fmt.Errorf("web: outbox of %s: %w", p.Name, err))
				return
			}
			if len(rows) > outboxLimit {
				rows, g.More = rows[:outboxLimit], true
			}
			for _, x := range rows {
				ref := refs[p.Name][x.CaseID]
				if ref == "" && x.CaseID != 0 {
					ref = strconv.FormatInt(x.CaseID, 10)
				}
				g.Rows = append(g.Rows, outboxRow{Project: p.Name, ID: x.ID, Case: ref, Kind: x.Kind, Recipient: addrs[p.Name].show(x.Recipient),
					Attempts: x.Attempts, Created: x.Created, LastAttempt: x.LastAttempt, NextAttempt: x.NextAttempt, Finished: x.Finished,
					Code: x.LastCode})
			}
		}
		slices.SortStableFunc(g.Rows, func(a, b outboxRow) int { return b.Created.Compare(a.Created) })
		groups = append(groups, g)
	}
	h.render(w, http.StatusOK, "outbox", "Outbox", groups)
}

// caseRefs maps p's case IDs to their references.
func caseRefs(ctx context.Context, p Project) (map[int64]string, error) {
	list, err := p.Cases.List(ctx, cases.ListOptions{Brief: true})
	if err != nil {
		return nil, fmt.Errorf("web: cases of %s: %w", p.Name, err)
	}
	m := make(map[int64]string, len(list))
	for _, c := range list {
		m[c.ID] = c.Ref
	}
	return m, nil
}

type quarantineRow struct {
	Project  string
	ID       int64
	Received time.Time
	Sender   string
	Size     int64
	Class    string
	Reason   string
}

func (h *Handler) quarantinePage(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	var rows []quarantineRow
	for _, p := range h.projects {
		list, err := p.Quarantine.List(ctx)
		if err != nil {
			h.fail(w, http.StatusInternalServerError, "The quarantine cannot be read.", fmt.Errorf("web: quarantine of %s: %w", p.Name, err))
			return
		}
		addrs, err := knownAddresses(ctx, p)
		if err != nil {
			h.fail(w, http.StatusInternalServerError, "The directory cannot be read.", err)
			return
		}
		for _, in := range list {
			rows = append(rows, quarantineRow{Project: p.Name, ID: in.ID, Received: in.Received, Sender: addrs.show(in.Sender),
				Size: in.Size, Class: in.Class, Reason: addrs.text(intake.Printable(in.Reason))})
		}
	}
	slices.SortStableFunc(rows, func(a, b quarantineRow) int { return b.Received.Compare(a.Received) })
	h.render(w, http.StatusOK, "quarantine", "Quarantine", rows)
}

type keyRow struct {
	Project     string
	Fingerprint string
	Expires     time.Time
	Holders     []string
	Problem     string    // why the key is not usable through the latest planned T0; "" when it is
	BeforeT0    string    // the case whose planned T0 the key expires before
	T0          time.Time // that T0
}

type keysData struct {
	Through time.Time
	Rows    []keyRow
}

// keysPage lists every key in use, checked through the latest planned T0
// (at least the next 30 days): the keys that expire before a planned T0
// first, the soonest T0 first.
func (h *Handler) keysPage(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	now := h.clock.Now()
	d := keysData{Through: now.Add(30 * 24 * time.Hour)}
	type planned struct {
		ref string
		t0  time.Time
	}
	t0s := map[string][]planned{}
	for _, p := range h.projects {
		list, err := p.Cases.List(ctx, cases.ListOptions{Open: true})
		if err != nil {
			h.fail(w, http.StatusInternalServerError, "The cases cannot be read.", fmt.Errorf("web: cases of %s: %w", p.Name, err))
			return
		}
		for _, c := range list {
			if c.DiscloseAt.After(now) {
				t0s[p.Name] = append(t0s[p.Name], planned{c.Ref, c.DiscloseAt})
				if c.DiscloseAt.After(d.Through) {
					d.Through = c.DiscloseAt
				}
			}
		}
		slices.SortFunc(t0s[p.Name], func(a, b planned) int { return a.t0.Compare(b.t0) })
	}
	for _, p := range h.projects {
		all, err := p.Directory.CheckKeys(ctx, d.Through)
		if err != nil {
			h.fail(w, http.StatusInternalServerError, "The keys cannot be read.", fmt.Errorf("web: keys of %s: %w", p.Name, err))
			return
		}
		addrs, err := knownAddresses(ctx, p)
		if err != nil {
			h.fail(w, http.StatusInternalServerError, "The directory cannot be read.", err)
			return
		}
		for _, ks := range all {
			kr := keyRow{Project: p.Name, Fingerprint: ks.Fingerprint, Expires: ks.Expires}
			for _, hd := range ks.Holders {
				kr.Holders = append(kr.Holders, holder(hd, addrs))
			}
			if ks.Err != nil {
				kr.Problem = addrs.text(oneLine(ks.Err.Error()))
			}
			if !ks.Expires.IsZero() {
				for _, pl := range t0s[p.Name] {
					if ks.Expires.Before(pl.t0) {
						kr.BeforeT0, kr.T0 = pl.ref, pl.t0
						break
					}
				}
			}
			d.Rows = append(d.Rows, kr)
		}
	}
	slices.SortStableFunc(d.Rows, func(a, b keyRow) int {
		switch {
		case (a.BeforeT0 != "") != (b.BeforeT0 != ""):
			if a.BeforeT0 != "" {
				return -1
			}
			return 1
		case a.BeforeT0 != "":
			return a.T0.Compare(b.T0)
		case (a.Problem != "") != (b.Problem != ""):
			if a.Problem != "" {
				return -1
			}
			return 1
		}
		return 0
	})
	h.render(w, http.StatusOK, "keys", "Keys", d)
}

// holder is a key's holder ("member A", "list NAME: A", "case N: A") with
// its address A shown only if it is the team's or a list's.
func holder(h string, addrs *addresses) string {
	i := strings.LastIndexAny(h, " ")
	if i < 0 {
		return addrs.show(h)
	}
	return h[:i+1] + addrs.show(h[i+1:])
}
