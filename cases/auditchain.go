package cases

// ChainAudit numbers evs from 1 as the events of caseID, in the order
// given, and links and hashes each after the one before, as the workflow
// does when it writes them. It is for tools that make case histories in
// bulk (secgate bench -history): the chains it makes verify, and only a
// head signed by the team key (SignAuditHead) vouches for them.
func ChainAudit(caseID int64, evs []AuditEvent) []AuditEvent {
	out := make([]AuditEvent, len(evs))
	prev := genesis
	for i, e := range evs {
		e.CaseID, e.Seq, e.PrevHash = caseID, int64(i+1), prev
		e.Hash = hashEvent(e)
		out[i] = e
		prev = e.Hash
	}
	return out
}
