package main

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/secgate/secgate/intake"
	"github.com/secgate/secgate/schedule"
)

// ackJudge hands intake's distributor replies to the scheduler, which
// sent the notices and knows their codes.
type ackJudge struct{ s *schedule.Scheduler }

func (j ackJudge) Acknowledge(ctx context.Context, tx *sql.Tx, r intake.AckReply) (intake.AckVerdict, error) {
	v, err := j.s.Acknowledge(ctx, tx, schedule.AckReply{
		CaseID: r.CaseID, InboundID: r.InboundID, MessageID: r.MessageID, From: r.From, Thread: r.Thread,
		KeyOnFile: r.KeyOnFile, Signer: r.Signer, SignedWhole: r.SignedWhole, SignatureID: r.SignatureID,
		Text: r.Text, Received: r.Received,
	})
	return intake.AckVerdict{Counted: v.Counted, Line: v.Line}, err
}

// ackJSON is one recipient's copy of a notice in `case show -json`.
type ackJSON struct {
	Notice       string     `json:"notice"`
	NoticeID     string     `json:"notice_id"`
	List         string     `json:"list"`
	Recipient    string     `json:"recipient"`
	State        string     `json:"state"`
	Sent         *time.Time `json:"sent"`
	Delivered    *time.Time `json:"delivered"`
	Acknowledged *time.Time `json:"acknowledged"`
	AckMessageID string     `json:"ack_message_id,omitempty"`
	Reminded     *time.Time `json:"reminded"`
	Silent       bool       `json:"silent"`
}

func toAckJSON(as []schedule.AckStatus) []ackJSON {
	var out []ackJSON
	for _, a := range as {
		out = append(out, ackJSON{Notice: a.Notice, NoticeID: a.NoticeID, List: a.List, Recipient: a.Recipient, State: a.State,
			Sent: jsonTime(a.Sent), Delivered: jsonTime(a.Delivered), Acknowledged: jsonTime(a.Acknowledged),
			AckMessageID: a.AckMessageID, Reminded: jsonTime(a.Reminded), Silent: a.Silent()})
	}
	return out
}

// printAcks prints the acknowledgement table of a case: each recipient of
// each notice that asks for one, sent (queued), delivered (the SMTP 250)
// and acknowledged (a reply signed by their key on file), or nothing when
// no such notice went out.
func printAcks(out io.Writer, as []schedule.AckStatus) {
	if len(as) == 0 {
		return
	}
	fmt.Fprintf(out, "\nacknowledgements:\n")
	tw := newTable(out)
	fmt.Fprintln(tw, "  RECIPIENT\tLIST\tNOTICE\tSENT\tDELIVERED\tACKNOWLEDGED\tREMINDED")
	for _, a := range as {
		delivered := fmtSecond(a.Delivered)
		if a.Delivered.IsZero() {
			delivered = "- (" + a.State + ")"
		}
		acked := fmtSecond(a.Acknowledged)
		if a.Silent() {
			acked = "SILENT"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\t%s\n", a.Recipient, a.List, a.Notice, fmtSecond(a.Sent), delivered, acked, fmtSecond(a.Reminded))
	}
	tw.Flush()
}

// ackMetrics are the acknowledgement series of a gateway: the
// acknowledgements that counted, and the recipients still silent, by
// notice. Read at scrape time like the other series.
type ackMetrics struct {
	g      *gateway
	acked  *prometheus.Desc
	silent *prometheus.Desc
}

func newAckMetrics(g *gateway) *ackMetrics {
	return &ackMetrics{g: g,
		acked: prometheus.NewDesc("secgate_acknowledgements_total",
			"Notices acknowledged by their recipients (a reply signed by their key on file, holding the notice's code), by notice.", []string{"notice"}, nil),
		silent: prometheus.NewDesc("secgate_ack_silent_recipients",
			"Recipients of a delivered notice that still asks to be acknowledged who have not acknowledged it, by notice.", []string{"notice"}, nil),
	}
}

// Describe implements prometheus.Collector.
func (m *ackMetrics) Describe(ch chan<- *prometheus.Desc) {
	ch <- m.acked
	ch <- m.silent
}

// Collect implements prometheus.Collector.
func (m *ackMetrics) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	counted := map[string]float64{schedule.MailEmbargoNotice: 0, schedule.MailPreReleaseNotice: 0}
	rows, err := m.g.db.Reader().QueryContext(ctx, `SELECT n.kind, count(*) FROM ack_reply r JOIN ack_notice n ON n.notice_id = r.notice_id GROUP BY n.kind`)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(m.acked, err)
	} else {
		for rows.Next() {
			var kind string
			var n float64
			if rows.Scan(&kind, &n) == nil {
				counted[kind] = n
			}
		}
		rows.Close()
		for kind, n := range counted {
			ch <- prometheus.MustNewConstMetric(m.acked, prometheus.CounterValue, n, kind)
		}
	}
	if m.g.sched == nil {
		return
	}
	silent, err := m.g.sched.SilentCounts(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(m.silent, err)
		return
	}
	for kind, n := range silent {
		ch <- prometheus.MustNewConstMetric(m.silent, prometheus.GaugeValue, float64(n), kind)
	}
}
