package web

import (
	"strings"
	"time"

	"github.com/secgate/secgate/schedule"
)

// matrix is a case's recipients by notices: for each notice that sent
// mail (a step of the timeline), what became of each recipient's copy and
// whether they acknowledged it.
type matrix struct {
	Notices    []notice
	Recipients []recipientRow
}

type notice struct {
	What     string
	Audience string
	Due      time.Time
}

type recipientRow struct {
	Recipient string
	Cells     []cell
}

// cell is a recipient's copy of a notice; Sent is false when none was
// queued for them.
type cell struct {
	Queued bool
	State  string // the delivery's outcome: sent, queued, deferred, failed, missed, withdrawn, bounced
	At     time.Time
	Acked  bool
	AckAt  time.Time
}

func buildMatrix(steps []schedule.Step, acks []Ack, addrs *addresses) matrix {
	ackAt := map[[2]string]time.Time{}
	for _, a := range acks {
		ackAt[[2]string{a.NoticeID, strings.ToLower(a.Recipient)}] = a.At
	}
	var m matrix
	row := map[string]int{} // displayed recipient -> index in m.Recipients
	for _, st := range steps {
		if len(st.Mail) == 0 {
			continue
		}
		col := len(m.Notices)
		m.Notices = append(m.Notices, notice{What: st.What, Audience: strings.Join(st.Audience, ", "), Due: st.Due})
		for i := range m.Recipients {
			m.Recipients[i].Cells = append(m.Recipients[i].Cells, cell{})
		}
		for _, d := range st.Mail {
			who := addrs.show(d.Recipient)
			i, ok := row[who]
			if !ok {
				i = len(m.Recipients)
				row[who] = i
				m.Recipients = append(m.Recipients, recipientRow{Recipient: who, Cells: make([]cell, col+1)})
			}
			c := cell{Queued: true, State: d.Outcome, At: d.At()}
			if at, ok := ackAt[[2]string{d.NoticeID, strings.ToLower(d.Recipient)}]; ok {
				c.Acked, c.AckAt = true, at
			}
			m.Recipients[i].Cells[col] = c
		}
	}
	return m
}
