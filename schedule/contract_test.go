package schedule

import (
	"github.com/secgate/secgate/cases"
	"github.com/secgate/secgate/distlist"
)

// The real components fit the interfaces the scheduler asks for.
var (
	_ Cases           = (*cases.Workflow)(nil)
	_ StateSetter     = (*cases.Workflow)(nil)
	_ Directory       = (*distlist.Directory)(nil)
	_ Outbox          = (*distlist.Outbox)(nil)
	_ cases.Scheduler = (*Scheduler)(nil)
)
