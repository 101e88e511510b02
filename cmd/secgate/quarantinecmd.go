package main

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/secgate/secgate/intake"
)

// inboundJSON is an inbound message in JSON output (never its body).
type inboundJSON struct {
	Project   string     `json:"project,omitempty"` // with several projects
	ID        int64      `json:"id"`
	Mailbox   string     `json:"mailbox"`
	UID       uint32     `json:"uid"`
	SHA256    string     `json:"sha256"`
	MessageID string     `json:"message_id"`
	Sender    string     `json:"sender"`
	Size      int64      `json:"size"`
	Received  *time.Time `json:"received"`
	State     string     `json:"state"`
	Class     string     `json:"class,omitempty"`
	Reason    string     `json:"reason,omitempty"`
	CaseID    int64      `json:"case_id,omitempty"`
	Processed *time.Time `json:"processed"`
	Moved     bool       `json:"moved"`
	Header    *string    `json:"header,omitempty"`
}

func toInboundJSON(in intake.Inbound) inboundJSON {
	return inboundJSON{
		ID: in.ID, Mailbox: in.Mailbox, UID: in.UID, SHA256: hex.EncodeToString(in.SHA256[:]), MessageID: in.MessageID,
		Sender: in.Sender, Size: in.Size, Received: jsonTime(in.Received), State: in.State, Class: in.Class,
		Reason: in.Reason, CaseID: in.CaseID, Processed: jsonTime(in.Processed), Moved: in.Moved,
	}
}

func runQuarantineList(ctx context.Context, a *app, c *command, args []string) error {
	fs := c.flagSet(a)
	sel := configFlag(fs)
	asJSON := jsonFlag(fs)
	if _, err := c.parse(a, fs, args, 0); err != nil {
		return err
	}
	projects, err := sel.projects()
	if err != nil {
		return err
	}
	// With several projects, every project's quarantine, each row naming
	// its project.
	several := len(projects) > 1
	type row struct {
		project string
		in      intake.Inbound
	}
	var rows []row
	for _, cfg := range projects {
		err := func() error {
			v, err := openView(ctx, a, cfg, false)
			if err != nil {
				return err
			}
			defer v.Close()
			list, err := intake.NewQuarantine(v.db, nil).List(ctx)
			for _, in := range list {
				rows = append(rows, row{cfg.Name, in})
			}
			return err
		}()
		if err != nil {
			return inSeveral(several, cfg, err)
		}
	}
	if *asJSON {
		out := make([]inboundJSON, 0, len(rows))
		for _, r := range rows {
			ij := toInboundJSON(r.in)
			if several {
				ij.Project = r.project
			}
			out = append(out, ij)
		}
		return a.printJSON(out)
	}
	if len(rows) == 0 {
		fmt.Fprintln(a.stdout, "quarantine is empty")
		return nil
	}
	tw := newTable(a.stdout)
	head := "ID\tRECEIVED\tSENDER\tSIZE\tREASON"
	if several {
		head = "PROJECT\t" + head
	}
	fmt.Fprintln(tw, head)
	for _, r := range rows {
		in := r.in
		if several {
			fmt.Fprintf(tw, "%s\t", r.project)
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%d\t%s\n", in.ID, fmtTime(in.Received), dash(in.Sender), in.Size, dash(shorten(intake.Printable(in.Reason), 70)))
	}
	return tw.Flush()
}

func runQuarantineShow(ctx context.Context, a *app, c *command, args []string) error {
	fs := c.flagSet(a)
	sel := configFlag(fs)
	asJSON := jsonFlag(fs)
	// The raw message is stored encrypted to the team key: its header
	// needs the key. The body is never shown.
	v, id, err := openRow(ctx, a, c, fs, sel, args, true)
	if err != nil {
		return err
	}
	defer v.Close()
	in, header, err := intake.NewQuarantine(v.db, v.key).Show(ctx, id)
	if errors.Is(err, intake.ErrNotFound) {
		return fmt.Errorf("no inbound message %d (see secgate quarantine list)", id)
	}
	if err != nil {
		return err
	}
	if *asJSON {
		out := toInboundJSON(*in)
		out.Header = &header
		return a.printJSON(out)
	}
	out := a.stdout
	field := func(k, v string) { fmt.Fprintf(out, "%-11s %s\n", k+":", v) }
	field("inbound", strconv.FormatInt(in.ID, 10))
	field("state", in.State)
	field("reason", dash(intake.Printable(in.Reason)))
	field("sender", dash(in.Sender))
	field("message-id", dash(in.MessageID))
	field("size", fmt.Sprintf("%d bytes", in.Size))
	field("received", fmtTime(in.Received))
	field("mailbox", fmt.Sprintf("%s (uid %d)", in.Mailbox, in.UID))
	field("sha256", hex.EncodeToString(in.SHA256[:]))
	if in.Class != "" {
		field("class", in.Class)
	}
	fmt.Fprintf(out, "\nheader (the body is not shown):\n%s", intake.Printable(strings.ReplaceAll(header, "\r\n", "\n")))
	if in.State == intake.StateQuarantined {
		fmt.Fprintf(out, "\nsecgate quarantine release %d processes it again, without the rate, duplicate and replay checks.\n", in.ID)
	}
	return nil
}

func runQuarantineRelease(ctx context.Context, a *app, c *command, args []string) error {
	fs := c.flagSet(a)
	sel := configFlag(fs)
	asJSON := jsonFlag(fs)
	v, id, err := openRow(ctx, a, c, fs, sel, args, false)
	if err != nil {
		return err
	}
	defer v.Close()
	q := intake.NewQuarantine(v.db, nil)
	if err := q.Release(ctx, id); err != nil {
		if errors.Is(err, intake.ErrNotFound) {
			if in, _, serr := q.Show(ctx, id); serr == nil {
				return fmt.Errorf("inbound message %d is %s, not quarantined", id, in.State)
			}
			return fmt.Errorf("no quarantined message %d (see secgate quarantine list)", id)
		}
		return err
	}
	if *asJSON {
		return a.printJSON(map[string]any{"id": id, "state": intake.StateReleased})
	}
	fmt.Fprintf(a.stdout, "inbound message %d released: a running secgate serve processes it at its next poll\n", id)
	return nil
}
