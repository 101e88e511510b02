package web

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/secgate/secgate/cases"
	"github.com/secgate/secgate/schedule"
)

// timelineSVG is a case's timeline drawn as an SVG picture: each event a
// numbered mark on one axis from the report's arrival to the last step
// (the retrospective), with now marked. Events lists the marks in order,
// for the table under the picture.
type timelineSVG struct {
	Width, Height int
	AxisY         int
	X0, X1        int // the axis
	Now           mark
	NowIn         bool // now falls within the drawn range
	T0            mark
	HasT0         bool
	Start, End    time.Time
	Events        []event
	Labels        []label
	Desc          string // the picture in words, for screen readers
}

type mark struct{ X int }

// event is one mark of the timeline.
type event struct {
	N        int
	At       time.Time
	What     string
	Audience string
	State    string // past, planned, done, failed, missed, cancelled, skipped, deadline
	Class    string // the mark's CSS class
	X        int
}

// label numbers the marks drawn at one place (closer than a mark's
// width), once: "5–7". Labels alternate above and below the axis.
type label struct {
	X, Y int
	Text string
}

// labels returns the labels of evs, in order of time.
func labels(evs []event) []label {
	var out []label
	for i := 0; i < len(evs); {
		j := i + 1
		for j < len(evs) && evs[j].X-evs[j-1].X < 14 {
			j++
		}
		text := fmt.Sprint(evs[i].N)
		if j-i > 1 {
			text += "–" + fmt.Sprint(evs[j-1].N)
		}
		y := svgAxisY - 16
		if len(out)%2 == 1 {
			y = svgAxisY + 28
		}
		out = append(out, label{X: evs[i].X, Y: y, Text: text})
		i = j
	}
	return out
}

const (
	svgWidth  = 960
	svgHeight = 150
	svgAxisY  = 75
	svgMargin = 40
)

// drawTimeline lays out c's timeline: the report's arrival, the evaluation
// deadline, every step of the disclosure (past and planned, with each
// audience), the acknowledgements and T0.
func drawTimeline(now time.Time, c *cases.Case, evaluateBy time.Time, plan schedule.Timeline, planned bool, steps []schedule.Step, acks []Ack) timelineSVG {
	var evs []event
	add := func(at time.Time, what, audience, state string) {
		if at.IsZero() {
			return
		}
		evs = append(evs, event{At: at.UTC(), What: what, Audience: audience, State: state})
	}
	add(c.Received, "report received", "", "past")
	if !evaluateBy.IsZero() {
		add(evaluateBy, "evaluation deadline", "", "deadline")
	}
	for _, st := range steps {
		at := st.Due
		if st.State == schedule.StepDone && !st.Finished.IsZero() {
			at = st.Finished
		}
		add(at, st.What, strings.Join(st.Audience, ", "), st.State)
	}
	for _, a := range acks {
		add(a.At, "acknowledged", a.NoticeID, "past")
	}
	slices.SortStableFunc(evs, func(a, b event) int { return a.At.Compare(b.At) })

	tl := timelineSVG{Width: svgWidth, Height: svgHeight, AxisY: svgAxisY, X0: svgMargin, X1: svgWidth - svgMargin}
	times := []time.Time{now.UTC()}
	for _, e := range evs {
		times = append(times, e.At)
	}
	if planned && !plan.T0.IsZero() {
		times = append(times, plan.T0.UTC())
	}
	tl.Start, tl.End = slices.MinFunc(times, time.Time.Compare), slices.MaxFunc(times, time.Time.Compare)
	span := tl.End.Sub(tl.Start)
	if span <= 0 {
		span = time.Hour
	}
	x := func(t time.Time) int {
		return tl.X0 + int(float64(tl.X1-tl.X0)*float64(t.Sub(tl.Start))/float64(span))
	}
	for i := range evs {
		e := &evs[i]
		e.N, e.X, e.Class = i+1, x(e.At), markClass(e.State)
	}
	tl.Events = evs
	tl.Labels = labels(evs)
	tl.Now, tl.NowIn = mark{x(now)}, true
	if planned && !plan.T0.IsZero() {
		tl.T0, tl.HasT0 = mark{x(plan.T0)}, true
	}
	past, future := 0, 0
	for _, e := range evs {
		if e.At.After(now) {
			future++
		} else {
			past++
		}
	}
	tl.Desc = fmt.Sprintf("%d events from %s to %s: %d past, %d still to come.", len(evs),
		tl.Start.Format(timeFormat), tl.End.Format(timeFormat), past, future)
	return tl
}

// markClass is the CSS class of a mark in state: filled for what happened,
// hollow for what is planned, red for what failed or was missed.
func markClass(state string) string {
	switch state {
	case schedule.StepPlanned:
		return "planned"
	case schedule.StepFailed, schedule.StepMissed:
		return "failed"
	case schedule.StepCancelled, schedule.StepSkipped:
		return "cancelled"
	case "deadline":
		return "deadline"
	}
	return "done"
}
