package intake

import (
	"context"
	"fmt"
	"time"
)

// caseTags are the case references of the message's subject tags, the
// protected (encrypted or signed) subject's first.
func (m *msgCtx) caseTags() []string {
	tags := m.insp.CaseTags
	if m.opened != nil && m.opened.Subject != "" {
		tags = append(caseTags(m.opened.Subject), tags...)
	}
	return tags
}

// archivedTag returns the first archived case a message that names no
// case of the project's database tags, and when it was archived: a new
// report about a case that ended long ago opens a new case, and the team
// is told which archived case it names.
func (m *msgCtx) archivedTag(ctx context.Context) (string, time.Time, error) {
	for _, ref := range m.caseTags() {
		at, ok, err := m.p.o.Cases.Archived(ctx, m.tx, ref)
		if err != nil {
			return "", time.Time{}, fmt.Errorf("intake: archived case lookup: %w", err)
		}
		if ok {
			return ref, at, nil
		}
	}
	return "", time.Time{}, nil
}
