package web

import (
	"context"
	"time"

	"github.com/secgate/secgate/cases"
	"github.com/secgate/secgate/distlist"
	"github.com/secgate/secgate/intake"
	"github.com/secgate/secgate/schedule"
)

// Project is what the view reads of one project: readers only. Each field
// is satisfied by the package's own type (cases.Workflow built without the
// team key, schedule.Scheduler, distlist.Directory, intake.Quarantine) or
// by a small adapter over the project's database.
type Project struct {
	Name       string // the project's short name (the project filter)
	Team       string // the team's address
	Cases      CaseReader
	Timeline   TimelineReader
	Directory  DirectoryReader
	Outbox     OutboxReader
	Quarantine QuarantineReader
	Audit      AuditReader
	Acks       AckReader // nil: no acknowledgements recorded
}

// CaseReader reads cases (cases.Workflow).
type CaseReader interface {
	List(ctx context.Context, opts cases.ListOptions) ([]*cases.Case, error)
	Get(ctx context.Context, ref string) (*cases.Case, error)
}

// TimelineReader reads disclosure timelines (schedule.Scheduler).
type TimelineReader interface {
	Steps(ctx context.Context, c *cases.Case) ([]schedule.Step, error)
	CurrentPlan(ctx context.Context, caseID int64) (schedule.Timeline, time.Time, bool, error)
	Deadlines(policy string, received time.Time) (evaluateBy, fixBy time.Time)
}

// DirectoryReader reads the team, the lists and the keys
// (distlist.Directory).
type DirectoryReader interface {
	Team(ctx context.Context) ([]distlist.Member, error)
	Lists(ctx context.Context) ([]distlist.ListInfo, error)
	List(ctx context.Context, name string) (*distlist.List, error)
	CheckKeys(ctx context.Context, until time.Time) ([]distlist.KeyStatus, error)
}

// OutboxReader lists outbox rows, newest first (distlist.OutboxRows).
type OutboxReader interface {
	Rows(ctx context.Context, f distlist.RowFilter) ([]distlist.Row, error)
}

// QuarantineReader lists the quarantined inbound messages
// (intake.Quarantine).
type QuarantineReader interface {
	List(ctx context.Context) ([]intake.Inbound, error)
}

// AuditReader verifies a case's audit chain against the signed log
// (cases.Workflow.VerifyCaseAudit with the team's public key): the case
// alone when the signed heads vouch for it, else the whole log.
type AuditReader interface {
	VerifyCaseAudit(ctx context.Context, caseID int64) (*cases.AuditCheck, error)
}

// Ack is a recipient's acknowledgement of a notice.
type Ack struct {
	NoticeID  string
	Recipient string
	At        time.Time
}

// AckReader reads the acknowledgements of a case's notices.
type AckReader interface {
	Acks(ctx context.Context, caseID int64) ([]Ack, error)
}
