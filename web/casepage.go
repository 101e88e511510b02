package web

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/secgate/secgate/cases"
	"github.com/secgate/secgate/schedule"
)

type caseData struct {
	Case      caseRow
	Planned   bool
	Plan      schedule.Timeline
	Published string
	Timeline  timelineSVG
	Audit     auditState
	Matrix    matrix
	AcksWired bool
}

// auditState is the audit chain's state for the page.
type auditState struct {
	OK     bool
	Chain  string // this case's chain
	Log    string // the sentence on the log: the whole log against the signed head, or what the one-case check covered
	Events int
}

func (h *Handler) casePage(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	p, ok := h.project(r.PathValue("project"))
	if !ok {
		h.fail(w, http.StatusNotFound, "No such project.", nil)
		return
	}
	c, err := p.Cases.Get(ctx, strings.ToUpper(r.PathValue("ref")))
	if errors.Is(err, cases.ErrNotFound) {
		h.fail(w, http.StatusNotFound, "No such case.", nil)
		return
	}
	if err != nil {
		h.fail(w, http.StatusInternalServerError, "The case cannot be read.", err)
		return
	}
	d, err := h.caseData(r, p, c)
	if err != nil {
		h.fail(w, http.StatusInternalServerError, "The case cannot be read.", err)
		return
	}
	h.render(w, http.StatusOK, "case", c.Ref, d)
}

func (h *Handler) caseData(r *http.Request, p Project, c *cases.Case) (*caseData, error) {
	ctx := r.Context()
	names, err := memberNames(ctx, p)
	if err != nil {
		return nil, err
	}
	steps, err := p.Timeline.Steps(ctx, c)
	if err != nil {
		return nil, fmt.Errorf("web: timeline of %s: %w", c.Ref, err)
	}
	plan, published, planned, err := p.Timeline.CurrentPlan(ctx, c.ID)
	if err != nil {
		return nil, fmt.Errorf("web: plan of %s: %w", c.Ref, err)
	}
	var acks []Ack
	if p.Acks != nil {
		if acks, err = p.Acks.Acks(ctx, c.ID); err != nil {
			return nil, fmt.Errorf("web: acknowledgements of %s: %w", c.Ref, err)
		}
	}
	addrs, err := knownAddresses(ctx, p)
	if err != nil {
		return nil, err
	}
	chk, err := p.Audit.VerifyCaseAudit(ctx, c.ID)
	if err != nil {
		return nil, fmt.Errorf("web: audit log of %s: %w", p.Name, err)
	}
	d := &caseData{Case: h.caseRow(p, c, names, steps), Planned: planned, Plan: plan, AcksWired: p.Acks != nil}
	if !published.IsZero() {
		d.Published = published.UTC().Format(timeFormat)
	}
	evaluateBy, _ := p.Timeline.Deadlines(c.Policy, c.Received)
	d.Timeline = drawTimeline(h.clock.Now(), c, evaluateBy, plan, planned, steps, acks)
	d.Audit = auditOf(chk, c.ID)
	d.Matrix = buildMatrix(steps, acks, addrs.forCase(c.ReporterAddr))
	return d, nil
}

func auditOf(chk *cases.AuditCheck, caseID int64) auditState {
	ch := chk.Chain(caseID)
	a := auditState{OK: chk.Err() == nil, Events: ch.Events, Chain: "verified", Log: "The whole log: verified"}
	if ch.Err != nil {
		a.Chain = "BROKEN: " + oneLine(ch.Err.Error())
	}
	var other []string
	for _, e := range chk.Errs() {
		if e != ch.Err {
			other = append(other, oneLine(e.Error()))
		}
	}
	switch {
	case len(other) > 0:
		a.Log = "The whole log: NOT VERIFIED: " + strings.Join(other, "; ")
	case chk.Head == nil:
		a.Log = "The whole log: chains verified; no signed head yet"
	case chk.CaseOnly:
		a.Log = fmt.Sprintf("The log: this case's newest event and the log's are held by the signed head of %s (%d events); "+
			"the other chains are not read for this page (secgate audit verify and the weekly key report check them)",
			chk.Head.Head.At.UTC().Format(timeFormat), chk.Head.Head.Events)
	default:
		a.Log = fmt.Sprintf("The whole log: verified against the signed head of %s (%d events)", chk.Head.Head.At.UTC().Format(timeFormat), chk.Head.Head.Events)
	}
	return a
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
