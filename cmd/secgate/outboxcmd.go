package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/secgate/secgate/cases"
	"github.com/secgate/secgate/distlist"
)

// outboxRowJSON is an outbox row in JSON output.
type outboxRowJSON struct {
	Project     string     `json:"project,omitempty"` // with several projects
	ID          int64      `json:"id"`
	Kind        string     `json:"kind"`
	Case        string     `json:"case,omitempty"`
	NoticeID    string     `json:"notice_id"`
	Recipient   string     `json:"recipient"`
	Fingerprint string     `json:"fingerprint,omitempty"`
	Encrypted   bool       `json:"encrypted"`
	MessageID   string     `json:"message_id"`
	State       string     `json:"state"`
	Attempts    int        `json:"attempts"`
	Created     *time.Time `json:"created"`
	NextAttempt *time.Time `json:"next_attempt"`
	LastAttempt *time.Time `json:"last_attempt"`
	LastCode    int        `json:"last_code,omitempty"`
	LastReply   string     `json:"last_reply,omitempty"`
	Finished    *time.Time `json:"finished"`
}

type attemptJSON struct {
	N        int        `json:"n"`
	Started  *time.Time `json:"started"`
	Finished *time.Time `json:"finished"`
	Outcome  string     `json:"outcome"`
	Code     int        `json:"code,omitempty"`
	Reply    string     `json:"reply,omitempty"`
}

func toRowJSON(r distlist.Row, ref string) outboxRowJSON {
	return outboxRowJSON{
		ID: r.ID, Kind: r.Kind, Case: ref, NoticeID: r.NoticeID, Recipient: r.Recipient, Fingerprint: r.Fingerprint,
		Encrypted: r.Encrypt, MessageID: r.MessageID, State: r.State, Attempts: r.Attempts, Created: jsonTime(r.Created),
		NextAttempt: jsonTime(r.NextAttempt), LastAttempt: jsonTime(r.LastAttempt), LastCode: r.LastCode,
		LastReply: r.LastReply, Finished: jsonTime(r.Finished),
	}
}

var outboxStates = []string{distlist.StateQueued, distlist.StateSending, distlist.StateSent, distlist.StateDeferred,
	distlist.StateFailed, distlist.StateBounced}

// caseRefs maps case IDs to references, for the rows' case column.
type caseRefs struct {
	w *cases.Workflow
	m map[int64]string
}

func (c *caseRefs) ref(ctx context.Context, id int64) string {
	if id == 0 {
		return ""
	}
	if r, ok := c.m[id]; ok {
		return r
	}
	r := strconv.FormatInt(id, 10)
	if cs, err := c.w.GetByID(ctx, id); err == nil {
		r = cs.Ref
	}
	c.m[id] = r
	return r
}

func runOutbox(ctx context.Context, a *app, c *command, args []string) error {
	fs := c.flagSet(a)
	sel := configFlag(fs)
	asJSON := jsonFlag(fs)
	caseRef := fs.String("case", "", "only the mail of case `REF`")
	failed := fs.Bool("failed", false, "only rows that failed or bounced")
	state := fs.String("state", "", "only rows in `STATE` ("+strings.Join(outboxStates, ", ")+")")
	limit := fs.Int("n", 100, "show at most `N` rows (newest first)")
	if _, err := c.parse(a, fs, args, 0); err != nil {
		return err
	}
	if *state != "" && !slices.Contains(outboxStates, *state) {
		return fmt.Errorf("-state: unknown state %q (one of %s)", *state, strings.Join(outboxStates, ", "))
	}
	if *failed && *state != "" {
		return errors.New("-failed and -state exclude each other")
	}
	projects, err := sel.projects()
	if err != nil {
		return err
	}
	if *caseRef != "" {
		cfg, err := sel.forCase(*caseRef)
		if err != nil {
			return err
		}
		projects = []*Config{cfg}
	}
	// With several projects, every project's rows, newest first, each
	// naming its project.
	several := sel.several() && *caseRef == ""
	type row struct {
		project string
		r       distlist.Row
		ref     string
	}
	var rows []row
	for _, cfg := range projects {
		err := func() error {
			v, err := openView(ctx, a, cfg, false)
			if err != nil {
				return err
			}
			defer v.Close()
			ob, err := v.outbox(ctx)
			if err != nil {
				return err
			}
			w, err := v.workflow()
			if err != nil {
				return err
			}
			refs := &caseRefs{w: w, m: map[int64]string{}}
			f := distlist.RowFilter{State: *state, Limit: *limit}
			if *caseRef != "" {
				cs, err := w.Get(ctx, strings.ToUpper(*caseRef))
				if errors.Is(err, cases.ErrNotFound) {
					return fmt.Errorf("no case %s (see secgate case list)", *caseRef)
				}
				if err != nil {
					return err
				}
				f.CaseID = cs.ID
			}
			var rs []distlist.Row
			if *failed {
				for _, st := range []string{distlist.StateFailed, distlist.StateBounced} {
					f.State = st
					more, err := ob.Rows(ctx, f)
					if err != nil {
						return err
					}
					rs = append(rs, more...)
				}
				slices.SortFunc(rs, func(x, y distlist.Row) int { return int(y.ID - x.ID) })
				rs = rs[:min(len(rs), max(*limit, 1))]
			} else if rs, err = ob.Rows(ctx, f); err != nil {
				return err
			}
			for _, r := range rs {
				rows = append(rows, row{cfg.Name, r, refs.ref(ctx, r.CaseID)})
			}
			return nil
		}()
		if err != nil {
			return inSeveral(several, cfg, err)
		}
	}
	if several {
		slices.SortStableFunc(rows, func(x, y row) int { return y.r.Created.Compare(x.r.Created) })
		if *limit > 0 {
			rows = rows[:min(len(rows), *limit)]
		}
	}
	if *asJSON {
		out := make([]outboxRowJSON, 0, len(rows))
		for _, r := range rows {
			rj := toRowJSON(r.r, r.ref)
			if several {
				rj.Project = r.project
			}
			out = append(out, rj)
		}
		return a.printJSON(out)
	}
	if len(rows) == 0 {
		fmt.Fprintln(a.stdout, "no outbox rows")
		return nil
	}
	tw := newTable(a.stdout)
	head := "ID\tTIME\tKIND\tCASE\tRECIPIENT\tSTATE\tATTEMPTS\tNEXT ATTEMPT\tLAST REPLY"
	if several {
		head = "PROJECT\t" + head
	}
	fmt.Fprintln(tw, head)
	for _, x := range rows {
		r := x.r
		if several {
			fmt.Fprintf(tw, "%s\t", x.project)
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\n", r.ID, fmtSecond(rowTime(r)), r.Kind, dash(x.ref),
			r.Recipient, r.State, r.Attempts, nextAttempt(r), dash(shorten(lastReply(r), 60)))
	}
	return tw.Flush()
}

// rowTime is the time of a row in the list: its last attempt, or when it
// was queued if it was never tried.
func rowTime(r distlist.Row) time.Time {
	if !r.LastAttempt.IsZero() {
		return r.LastAttempt
	}
	return r.Created
}

// nextAttempt is when a row that is still to be sent is tried next.
func nextAttempt(r distlist.Row) string {
	if stillToSend(r.State) {
		return fmtSecond(r.NextAttempt)
	}
	return "-"
}

func lastReply(r distlist.Row) string {
	if r.LastCode != 0 && !strings.HasPrefix(r.LastReply, strconv.Itoa(r.LastCode)) {
		return strconv.Itoa(r.LastCode) + " " + r.LastReply
	}
	return r.LastReply
}

func shorten(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}

// openRow parses the arguments of a command that takes one row ID (fs may
// hold more flags of the caller's) and opens the database view. Row IDs
// are a project's own: with several projects, -project says whose.
func openRow(ctx context.Context, a *app, c *command, fs *flag.FlagSet, sel *configSel, args []string, withKey bool) (*view, int64, error) {
	pos, err := c.parse(a, fs, args, 1)
	if err != nil {
		return nil, 0, err
	}
	id, err := rowID(pos[0])
	if err != nil {
		return nil, 0, err
	}
	cfg, err := sel.one()
	if err != nil {
		return nil, 0, err
	}
	v, err := openView(ctx, a, cfg, withKey)
	if err != nil {
		return nil, 0, err
	}
	return v, id, nil
}

// rowID parses an outbox or quarantine row ID argument.
func rowID(s string) (int64, error) {
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id <= 0 {
		return 0, fmt.Errorf("%q is not a row ID (a positive number)", s)
	}
	return id, nil
}

func runOutboxShow(ctx context.Context, a *app, c *command, args []string) error {
	fs := c.flagSet(a)
	sel := configFlag(fs)
	asJSON := jsonFlag(fs)
	v, id, err := openRow(ctx, a, c, fs, sel, args, false)
	if err != nil {
		return err
	}
	defer v.Close()
	ob, err := v.outbox(ctx)
	if err != nil {
		return err
	}
	w, err := v.workflow()
	if err != nil {
		return err
	}
	r, hist, err := ob.Row(ctx, id)
	if errors.Is(err, distlist.ErrNotFound) {
		return fmt.Errorf("no outbox row %d (see secgate outbox)", id)
	}
	if err != nil {
		return err
	}
	ref := (&caseRefs{w: w, m: map[int64]string{}}).ref(ctx, r.CaseID)
	if *asJSON {
		out := struct {
			outboxRowJSON
			History []attemptJSON `json:"history"`
		}{toRowJSON(r, ref), []attemptJSON{}}
		for _, h := range hist {
			out.History = append(out.History, attemptJSON{N: h.N, Started: jsonTime(h.Started), Finished: jsonTime(h.Finished),
				Outcome: h.Outcome, Code: h.Code, Reply: h.Reply})
		}
		return a.printJSON(out)
	}
	out := a.stdout
	field := func(k, v string) { fmt.Fprintf(out, "%-13s %s\n", k+":", v) }
	field("row", strconv.FormatInt(r.ID, 10))
	field("kind", r.Kind)
	field("case", dash(ref))
	field("notice", r.NoticeID)
	field("recipient", r.Recipient)
	enc := "no (signed only)"
	if r.Encrypt {
		enc = "yes, to " + dash(r.Fingerprint)
	}
	field("encrypted", enc)
	field("message-id", r.MessageID)
	field("state", r.State)
	field("attempts", strconv.Itoa(r.Attempts))
	field("created", fmtSecond(r.Created))
	field("next attempt", nextAttempt(r))
	field("last attempt", fmtSecond(r.LastAttempt))
	field("last reply", dash(lastReply(r)))
	field("finished", fmtSecond(r.Finished))
	fmt.Fprintf(out, "\nhistory (%d):\n", len(hist))
	tw := newTable(out)
	for _, h := range hist {
		code := "-"
		if h.Code != 0 {
			code = strconv.Itoa(h.Code)
		}
		fmt.Fprintf(tw, "  #%d\t%s\t%s\t%s\t%s\n", h.N, fmtSecond(h.Started), h.Outcome, code, dash(shorten(h.Reply, 80)))
	}
	return tw.Flush()
}

func runOutboxRetry(ctx context.Context, a *app, c *command, args []string) error {
	return outboxChange(ctx, a, c, args, false)
}

func runOutboxFail(ctx context.Context, a *app, c *command, args []string) error {
	return outboxChange(ctx, a, c, args, true)
}

// outboxChange retries or fails one row.
func outboxChange(ctx context.Context, a *app, c *command, args []string, fail bool) error {
	fs := c.flagSet(a)
	sel := configFlag(fs)
	asJSON := jsonFlag(fs)
	var reason *string
	if fail {
		reason = fs.String("reason", "failed from the command line", "why the row is given up, kept as its last reply")
	}
	v, id, err := openRow(ctx, a, c, fs, sel, args, false)
	if err != nil {
		return err
	}
	defer v.Close()
	ob, err := v.outbox(ctx)
	if err != nil {
		return err
	}
	if fail {
		err = ob.Fail(ctx, id, *reason)
	} else {
		err = ob.Retry(ctx, id)
	}
	if errors.Is(err, distlist.ErrNotFound) {
		r, _, rerr := ob.Row(ctx, id)
		switch {
		case errors.Is(rerr, distlist.ErrNotFound):
			return fmt.Errorf("no outbox row %d (see secgate outbox)", id)
		case rerr != nil:
			return rerr
		case fail:
			return fmt.Errorf("row %d is %s; only queued or deferred rows can be failed", id, r.State)
		default:
			return fmt.Errorf("row %d is %s; only deferred or failed rows can be retried", id, r.State)
		}
	}
	if err != nil {
		return err
	}
	r, _, err := ob.Row(ctx, id)
	if err != nil {
		return err
	}
	if *asJSON {
		return a.printJSON(toRowJSON(r, ""))
	}
	if fail {
		fmt.Fprintf(a.stdout, "row %d to %s failed: %s\n", r.ID, r.Recipient, r.LastReply)
	} else {
		fmt.Fprintf(a.stdout, "row %d to %s is queued and due now; a running secgate serve sends it within a minute (same message, same Message-ID)\n", r.ID, r.Recipient)
	}
	return nil
}
