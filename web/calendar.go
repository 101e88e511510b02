package web

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/secgate/secgate/cases"
	"github.com/secgate/secgate/schedule"
)

// calendar serves every planned step of every open case as an iCalendar
// feed: the steps of the disclosure timelines still to run and the
// evaluation deadlines still ahead. An event names the case and the step
// only, never anything of the report. The UID of a step is its job's, so
// that a re-planned step moves in the subscribers' calendars.
func (h *Handler) calendar(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	now := h.clock.Now()
	var evs []schedule.Event
	for _, p := range h.projects {
		list, err := p.Cases.List(ctx, cases.ListOptions{Open: true})
		if err != nil {
			h.fail(w, http.StatusInternalServerError, "The cases cannot be read.", fmt.Errorf("web: cases of %s: %w", p.Name, err))
			return
		}
		for _, c := range list {
			steps, err := p.Timeline.Steps(ctx, c)
			if err != nil {
				h.fail(w, http.StatusInternalServerError, "The timelines cannot be read.", fmt.Errorf("web: timeline of %s: %w", c.Ref, err))
				return
			}
			for _, st := range steps {
				if st.State != schedule.StepPlanned {
					continue
				}
				uid := fmt.Sprintf("%s-%s-job-%d@secgate", p.Name, c.Ref, st.Job)
				if st.Job == 0 {
					uid = fmt.Sprintf("%s-%s-%s-%d@secgate", p.Name, c.Ref, st.Kind, st.Due.Unix())
				}
				summary := c.Ref + ": " + st.What
				if len(st.Audience) > 0 {
					summary += " (" + strings.Join(st.Audience, ", ") + ")"
				}
				evs = append(evs, schedule.Event{UID: uid, Start: st.Due, Stamp: now, Summary: summary,
					Description: "project " + p.Name + ", case " + c.Ref + ", state " + string(c.State)})
			}
			if by, _ := p.Timeline.Deadlines(c.Policy, c.Received); awaitsEvaluation(c.State) && by.After(now) {
				evs = append(evs, schedule.Event{UID: p.Name + "-" + c.Ref + "-evaluate@secgate", Start: by, Stamp: now,
					Summary: c.Ref + ": evaluation deadline", Description: "project " + p.Name + ", case " + c.Ref})
			}
		}
	}
	w.Header().Set("Content-Type", "text/calendar; charset=utf-8")
	w.Header().Set("Content-Disposition", `inline; filename="secgate.ics"`)
	w.Write(schedule.Feed(evs...))
}
