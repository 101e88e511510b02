package intake

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/secgate/secgate/internal/clock"
	"github.com/secgate/secgate/store"
	"github.com/secgate/secgate/templates"
)

// Texts renders the templates (a *templates.Set).
type Texts interface {
	Render(name string, data any) (templates.Text, error)
}

// Template names the Processor renders.
const (
	TemplateAck         = "ack"
	TemplateTeamCopy    = "team-copy"
	TemplateWrongKey    = "wrong-key"
	TemplateQuarantined = "quarantined" // polite answer when mail is held for a limit
)

// ProcessorOptions wires a Processor.
type ProcessorOptions struct {
	Config    Config // the limits
	DB        *store.DB
	AtRest    AtRest
	Opener    Opener
	Directory Directory
	Mailer    Mailer
	Cases     Cases
	Acks      Acknowledger // optional: judges a distributor's reply as an acknowledgement of a notice
	Texts     Texts
	Project   templates.Project // team address, key fingerprint, names
	// TeamKey is the team's armored public key, attached to answers to
	// reporters who wrote in clear.
	TeamKey string
	// Self lists our own addresses (the security address, the bounce
	// address); mail from them is never answered.
	Self  []string
	Clock clock.Clock
	Log   *slog.Logger
}

// Processor classifies stored inbound messages and acts on them.
type Processor struct {
	o   ProcessorOptions
	lim Limits
}

// NewProcessor returns a Processor.
func NewProcessor(o ProcessorOptions) *Processor {
	o.Config = o.Config.WithDefaults()
	if o.Clock == nil {
		o.Clock = clock.Real{}
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Project.TeamAddress != "" {
		o.Self = append(o.Self, strings.ToLower(o.Project.TeamAddress))
	}
	for i, s := range o.Self {
		o.Self[i] = strings.ToLower(s)
	}
	return &Processor{o: o, lim: o.Config.limits()}
}

// outcome is where a message ends.
type outcome struct {
	state  string
	class  string
	reason string
	caseID int64
}

func held(class, reason string) outcome {
	return outcome{state: StateQuarantined, class: class, reason: reason}
}

func done(class, reason string) outcome {
	return outcome{state: StateProcessed, class: class, reason: reason}
}

// Process classifies inbound message id and acts on it. It is idempotent:
// a message no longer in state stored (or released) is left alone, and all
// the effects of processing (case, outgoing mail, state) commit in one
// transaction.
func (p *Processor) Process(ctx context.Context, id int64) error {
	return p.processOne(ctx, id, nil)
}

// processOne is Process of a message, handed over as stored if given.
func (p *Processor) processOne(ctx context.Context, id int64, given *storedCopy) error {
	team, err := p.o.Directory.Team(ctx)
	if err != nil {
		return fmt.Errorf("intake: team: %w", err)
	}
	m, err := p.prepare(ctx, id, team, given)
	if err != nil {
		return p.holdBroken(ctx, id, err)
	}
	if m == nil {
		return nil
	}
	return m.runOrHold(ctx)
}

// holdBroken handles a message that could not even be prepared (its
// stored copy does not decrypt, say): after a second try it is quarantined
// with the error, unless the database itself fails.
func (p *Processor) holdBroken(ctx context.Context, id int64, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if m, err2 := p.prepare(ctx, id, nil, nil); err2 == nil {
		if m == nil {
			return nil
		}
		return m.runOrHold(ctx)
	}
	in, gerr := getInbound(ctx, p.o.DB.Reader(), id)
	if gerr != nil {
		return errors.Join(err, gerr)
	}
	m := &msgCtx{p: p, in: in, insp: &Inspection{}, now: p.o.Clock.Now()}
	p.o.Log.Error("intake: stored message unusable; quarantined", "inbound", id, "err", err)
	if herr := m.finish(ctx, held(ClassError, "cannot read the stored message: "+err.Error()), nil); herr != nil {
		return errors.Join(err, herr)
	}
	return nil
}

// runOrHold runs m; when that fails twice (not a passing hiccup such as a
// busy database), the message is quarantined with the error as its reason,
// so one bad message never blocks the ones after it.
func (m *msgCtx) runOrHold(ctx context.Context) error {
	err := m.run(ctx)
	if err == nil || ctx.Err() != nil {
		return err
	}
	if err = m.run(ctx); err == nil || ctx.Err() != nil {
		return err
	}
	m.p.o.Log.Error("intake: processing failed; message quarantined", "inbound", m.in.ID, "err", err)
	if herr := m.finish(ctx, held(ClassError, "processing failed: "+err.Error()), nil); herr != nil {
		return errors.Join(err, herr)
	}
	return nil
}

// ProcessBatch processes ids in order. The CPU-heavy part (decrypting at
// rest, parsing, opening OpenPGP) runs in parallel; the decisions and their
// transactions run one after the other, in order. The team is read once for
// the batch.
func (p *Processor) ProcessBatch(ctx context.Context, ids []int64) error {
	return p.processBatch(ctx, ids, nil)
}

// processBatch is ProcessBatch, preparing the messages handed over in
// given from their copies (processStored).
func (p *Processor) processBatch(ctx context.Context, ids []int64, given map[int64]*storedCopy) error {
	team, err := p.o.Directory.Team(ctx)
	if err != nil {
		return fmt.Errorf("intake: team: %w", err)
	}
	ms := make([]*msgCtx, len(ids))
	errs := make([]error, len(ids))
	ready := make([]chan struct{}, len(ids))
	for i := range ready {
		ready[i] = make(chan struct{})
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	next := make(chan int, len(ids))
	for i := range ids {
		next <- i
	}
	close(next)
	var wg sync.WaitGroup
	defer wg.Wait()
	// A message's preparation (reads, decryption, parsing; nothing that
	// waits on the network) runs to its end once begun: without ctx's
	// cancellation database/sql starts no goroutine to watch ctx for each
	// of its reads (BenchmarkIntakeProcess, goroutines/report). ctx
	// decides whether the next one begins.
	pctx := context.WithoutCancel(ctx)
	for range min(runtime.GOMAXPROCS(0), len(ids)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if ctx.Err() == nil {
					ms[i], errs[i] = p.prepare(pctx, ids[i], team, given[ids[i]])
				} else {
					errs[i] = ctx.Err()
				}
				close(ready[i])
			}
		}()
	}
	// Decisions and transactions in order, overlapping with the
	// preparation of the messages that follow. Messages whose handling
	// stays inside our transaction share one commit (group commit).
	var group []*msgCtx
	for i := range ids {
		<-ready[i]
		m := ms[i]
		ms[i] = nil
		if errs[i] == nil && m != nil && m.groupable() {
			group = append(group, m)
			if len(group) < maxGroup {
				continue
			}
		}
		if err := p.runGroup(ctx, group); err != nil {
			return err
		}
		group = group[:0]
		if errs[i] != nil {
			if err := p.holdBroken(ctx, ids[i], errs[i]); err != nil {
				return err
			}
			continue
		}
		if m == nil || m.groupable() {
			continue
		}
		if err := m.runOrHold(ctx); err != nil {
			return err
		}
	}
	return p.runGroup(ctx, group)
}

// maxGroup bounds how many messages share one commit.
const maxGroup = 32

// groupable reports whether handling m only writes through our own
// transaction: not a bounce or a command mail (the outbox and the workflow
// commit those themselves).
func (m *msgCtx) groupable() bool {
	if ok, _ := m.insp.isBounce(); ok {
		return false
	}
	if _, ok := m.signedByMember(); ok {
		return false
	}
	if _, ok := m.fromMember(); ok {
		return false
	}
	return true
}

// runGroup runs the messages in one transaction. A message that fails
// rolls the transaction back, which then runs again with each message in
// a savepoint (groupTx): the one that fails is rolled back to its
// savepoint and run again on its own after the commit.
func (p *Processor) runGroup(ctx context.Context, group []*msgCtx) error {
	if len(group) == 0 {
		return nil
	}
	var failed []*msgCtx
	err := p.o.DB.Tx(ctx, func(tx *sql.Tx) error { return p.groupTx(ctx, tx, group, nil) })
	if errors.Is(err, errGroupMessage) && ctx.Err() == nil {
		p.o.Log.Debug("intake: a message of the group failed; again in savepoints", "err", err, "messages", len(group))
		err = p.o.DB.Tx(ctx, func(tx *sql.Tx) error {
			failed = failed[:0]
			return p.groupTx(ctx, tx, group, &failed)
		})
	}
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		// Nothing of the group committed: each on its own.
		p.o.Log.Warn("intake: group commit failed; one by one", "err", err, "messages", len(group))
		failed = group
	} else {
		p.o.Mailer.Kick()
	}
	for _, m := range failed {
		if err := m.runOrHold(ctx); err != nil {
			return err
		}
	}
	return nil
}

// prepare loads, inspects and (when it is to be opened at all) opens one
// message: the copy given, if the poller handed it over as it stored it,
// or else the stored one. It changes nothing; nil means there is nothing
// to do.
func (p *Processor) prepare(ctx context.Context, id int64, team []Member, given *storedCopy) (*msgCtx, error) {
	in, err := p.inbound(ctx, id, given)
	if err != nil {
		return nil, err
	}
	if in.State != StateStored && in.State != StateReleased {
		return nil, nil
	}
	m := &msgCtx{p: p, in: in, released: in.State == StateReleased, now: p.o.Clock.Now(), team: team}
	if err := m.loadGiven(ctx, given); err != nil {
		return nil, err
	}
	if m.in.Size > p.lim.MaxSize && m.limitErr == nil {
		m.limitErr = fmt.Errorf("%w: message is %d bytes, the limit is %d", ErrLimit, m.in.Size, p.lim.MaxSize)
	}
	if m.insp.MessageID != "" {
		if _, ok, err := p.o.Mailer.CaseForMessageID(ctx, m.insp.MessageID); err != nil {
			return nil, fmt.Errorf("intake: own Message-ID lookup: %w", err)
		} else if ok {
			m.ownMsgID = true
		}
	}
	if m.preChecks() != "" {
		return m, nil // decided without opening
	}
	if err := m.readPrior(ctx); err != nil {
		return nil, err
	}
	var candidates []string
	if m.insp.Autocrypt != "" {
		candidates = append(candidates, armorKey(m.insp.Autocrypt))
	}
	if err := m.dropParts(ctx, p.o.DB.Writer()); err != nil { // what a crash left
		return nil, err
	}
	m.opened, m.openErr = m.open(ctx, candidates, team)
	if spoolFailed(m.openErr) { // the database, not the message
		return nil, fmt.Errorf("intake: open %d: %w", id, m.openErr)
	}
	if err := m.presealReport(ctx); err != nil {
		return nil, err
	}
	return m, nil
}

// presealMax bounds the reports whose texts are sealed ahead (presealReport):
// a sealed copy is held from here until the report's transaction.
const presealMax = 256 << 10

// presealReport encrypts the texts of what looks like a new report at
// rest now, in parallel with the other messages of the batch, so that
// OpenCase does no public-key work in the group's transaction. A message
// that turns out to be something else has had this work for nothing.
func (m *msgCtx) presealReport(ctx context.Context) error {
	sealer, ok := m.p.o.Cases.(MessageSealer)
	op := m.opened
	if !ok || m.openErr != nil || op == nil || m.dupOf != 0 || m.rate > m.p.o.Config.RateLimit ||
		strings.TrimSpace(op.Text) == "" && len(op.Attachments) == 0 {
		return nil
	}
	if _, member := m.signedByMember(); member {
		return nil
	}
	if _, member := m.fromMember(); member {
		return nil
	}
	size := len(op.Text)
	for _, a := range op.Attachments {
		size += int(a.size())
	}
	if size > presealMax {
		return nil
	}
	sealed, err := sealer.SealMessage(m.reportSubject(), op.Text, op.Attachments)
	if err != nil {
		return fmt.Errorf("intake: seal report %d at rest: %w", m.in.ID, err)
	}
	m.sealed = sealed
	return nil
}

// preChecks names the first check that decides a message before it is
// opened: "bounce", "auto", "loop", "list", "limit", "malformed" or "", in
// the order run takes them.
func (m *msgCtx) preChecks() string {
	insp := m.insp
	if ok, _ := insp.isBounce(); ok {
		return "bounce"
	}
	if ok, _ := insp.isAutoReply(); ok {
		return "auto"
	}
	if ok, _ := insp.isLoop(m.p.o.Self); ok {
		return "loop"
	}
	if ok, _ := insp.isForeignList(m.p.o.Config.OwnLists); ok && !m.released {
		return "list"
	}
	if m.limitErr != nil && !m.released {
		return "limit"
	}
	if insp.Malformed != "" && insp.Parts == 0 {
		return "malformed"
	}
	return ""
}

// msgCtx is one message being processed.
type msgCtx struct {
	p        *Processor
	in       *Inbound
	raw      []byte
	insp     *Inspection
	limitErr error
	attached *keyScanner // keys found while inspected from its pieces (load)
	released bool
	now      time.Time
	team     []Member // read once per message or batch
	opened   *Opened
	openErr  error

	// Read in prepare: they depend only on messages stored earlier.
	ownMsgID bool  // the Message-ID is one our outbox generated
	rate     int   // messages from the sender within the rate window, counted up to the limit + 1
	dupOf    int64 // an earlier message with the same Message-ID, 0 if none

	sealed any // the report's texts sealed at rest ahead (presealReport)

	// Read with the replay identities (seenBefore), in the group's
	// transaction: the cases the sender opened today, if todayRead.
	today     int
	todayRead bool

	// Decided while the message joins its case, for its team copy.
	dist         *Member   // the distributor whose reply it is (distributorReply)
	commands     []string  // names of the lines that read as commands (cases.CommandNames)
	commandsTold string    // what the sender was told of them (answerCommandLines)
	ackVerdict   string    // whether a distributor's reply acknowledged a notice (distributorAck)
	archived     string    // an archived case a new report's subject tag names (archivedTag)
	archivedAt   time.Time // when that case was archived

	// tx is the shared transaction when m runs in a group (ProcessBatch),
	// and batch, if the Mailer batches, queues the group's mail.
	tx    *sql.Tx
	batch MailBatch
}

// enqueue queues mail in tx: through the group's batch when m runs in one.
func (m *msgCtx) enqueue(ctx context.Context, tx *sql.Tx, mail OutMail) ([]string, error) {
	if m.batch != nil && tx == m.tx {
		return m.batch.Enqueue(ctx, tx, mail)
	}
	return m.p.o.Mailer.Enqueue(ctx, tx, mail)
}

// reader is where m reads what earlier messages of its group may have
// written: the group's transaction, or the read pool.
func (m *msgCtx) reader() queryer {
	if m.tx != nil {
		return m.tx
	}
	return m.p.o.DB.Reader()
}

func (m *msgCtx) run(ctx context.Context) error {
	p := m.p
	insp := m.insp

	// 1. Bounces and delivery status notifications.
	if ok, why := insp.isBounce(); ok {
		raw, err := m.rawBytes(ctx)
		if err != nil {
			return err
		}
		matched, err := p.o.Mailer.HandleDSN(ctx, raw)
		if err != nil {
			return fmt.Errorf("intake: bounce %d: %w", m.in.ID, err)
		}
		if matched {
			return m.finish(ctx, done(ClassDSN, why+"; matched to an outgoing message"), nil)
		}
		return m.finish(ctx, held(ClassDSN, why+"; matches no message we sent"), nil)
	}
	// 2. Automatic replies: recorded, never answered.
	if ok, why := insp.isAutoReply(); ok {
		return m.finish(ctx, done(ClassAutoReply, why), nil)
	}
	// Our own mail coming back (through a public list, say): recorded,
	// never answered.
	if ok, why := insp.isLoop(p.o.Self); ok {
		return m.finish(ctx, done(ClassLoop, why), nil)
	}
	if m.ownMsgID {
		// A Message-ID our outbox generated: our own mail came back.
		return m.finish(ctx, done(ClassLoop, "our own Message-ID <"+insp.MessageID+">"), nil)
	}
	// Mail from a list that is not ours: never answered, held so that a
	// report a list forwarded is not lost.
	if ok, why := insp.isForeignList(p.o.Config.OwnLists); ok && !m.released {
		return m.finish(ctx, held(ClassList, why+": not answered; release it to handle it as mail to us, or name the list in [intake] own_lists"), nil)
	}
	// Limits (size, depth, parts, attachments).
	if m.limitErr != nil && !m.released {
		return m.hold(ctx, ClassLimit, m.limitErr.Error(), TemplateQuarantined)
	}
	if insp.Malformed != "" && insp.Parts == 0 {
		return m.hold(ctx, ClassMalformed, "malformed message: "+insp.Malformed, TemplateQuarantined)
	}

	// Opened (decrypted and verified) by prepare.
	opened, openErr := m.opened, m.openErr
	if m.opened == nil {
		m.opened = &Opened{}
	}

	// 3. Mail signed by a team member's key: commands. The workflow checks
	// the rest (freshness, replay, binding, role) and answers.
	if member, ok := m.signedByMember(); ok {
		return m.commandMail(ctx, member, opened, openErr)
	}

	// Everything else is a stranger's mail, also when its From names a
	// member: only a member's key makes mail the team's.
	if !m.released {
		if n := m.rate; n > p.o.Config.RateLimit {
			return m.hold(ctx, ClassLimit, fmt.Sprintf("rate limit: more than %d messages from %s within %s",
				p.o.Config.RateLimit, insp.From, p.o.Config.RateWindow), TemplateQuarantined)
		}
		// What this message protects (a session key, a plaintext) seen
		// before, however it is encoded or wrapped: never opened into a
		// case again.
		if first, from, ok, err := m.seenBefore(ctx); err != nil {
			return err
		} else if ok {
			return m.replay(ctx, first, from)
		}
	}

	var oe *OpenError
	switch err := openErr; {
	case err == nil:
	case errors.As(err, &oe) && errors.Is(err, ErrWrongKey):
		return m.wrongKey(ctx, oe.KeyIDs)
	case errors.Is(err, ErrWrongKey):
		return m.wrongKey(ctx, nil)
	case errors.Is(err, ErrNested):
		return m.hold(ctx, ClassNested, "nested encryption: an encrypted message inside the decrypted content is not opened again", TemplateQuarantined)
	case errors.Is(err, ErrUndecryptable):
		return m.hold(ctx, ClassUndecryptable, "encrypted message could not be decrypted", TemplateQuarantined)
	case errors.Is(err, ErrTooComplex):
		return m.hold(ctx, ClassLimit, err.Error(), TemplateQuarantined) // "too complex to open: ..."
	case errors.Is(err, ErrBadSignature):
		// Integrity failed and no plaintext came back: hold it, answer
		// nothing (no oracle), the operator can read the reason.
		return m.finish(ctx, held(ClassBadSignature, "signature does not verify"), nil)
	default:
		return m.finish(ctx, held(ClassMalformed, "cannot open: "+err.Error()), nil)
	}
	if dup := m.dupOf; dup != 0 && !m.released {
		return m.finish(ctx, held(ClassDuplicate, fmt.Sprintf("Message-ID <%s> already received with different content (inbound %d)", insp.MessageID, dup)), nil)
	}
	if insp.FromFields != 1 {
		return m.finish(ctx, held(ClassMalformed, fmt.Sprintf("%d From header fields (exactly one is allowed)", insp.FromFields)), nil)
	}
	// Mail with a member's address but not their signature: the workflow
	// refuses it and tells the member, at most once an hour.
	if _, ok := m.fromMember(); ok {
		return m.commandMail(ctx, Member{Address: insp.From}, opened, openErr)
	}

	// An application to an embargo list (/apply LIST, apply.go): never a
	// case, wherever it replies.
	if ok, err := m.application(ctx); ok || err != nil {
		return err
	}

	// 4. A reply to an existing case.
	caseID, how, err := m.threadCase(ctx)
	if err != nil {
		return err
	}
	if caseID != 0 {
		dist, isDist, err := p.o.Directory.Distributor(ctx, insp.From)
		if err != nil {
			return fmt.Errorf("intake: distributor lookup: %w", err)
		}
		if isDist {
			// 5. A distributor's reply to a notice.
			return m.distributorReply(ctx, caseID, dist)
		}
		return m.followUp(ctx, caseID, how)
	}

	// 6. A new report.
	return m.newReport(ctx)
}

// signedByMember returns the member whose key made the message's valid
// signature.
func (m *msgCtx) signedByMember() (Member, bool) {
	if m.opened == nil || m.opened.Signer == "" {
		return Member{}, false
	}
	for _, t := range m.team {
		if strings.EqualFold(t.Fingerprint, m.opened.Signer) {
			return t, true
		}
	}
	return Member{}, false
}

// fromMember returns the member whose address the (unsigned) From names.
func (m *msgCtx) fromMember() (Member, bool) {
	if m.insp.From == "" {
		return Member{}, false
	}
	for _, t := range m.team {
		if strings.EqualFold(t.Address, m.insp.From) {
			return t, true
		}
	}
	return Member{}, false
}

// commandMail hands the message to the workflow, which authenticates,
// applies and answers it.
func (m *msgCtx) commandMail(ctx context.Context, member Member, opened *Opened, openErr error) error {
	caseID, _, err := m.threadCase(ctx)
	if err != nil {
		return err
	}
	raw, err := m.rawBytes(ctx)
	if err != nil {
		return err
	}
	insp := m.insp
	if err := m.p.o.Cases.HandleCommandMail(ctx, CommandMail{
		InboundID: m.in.ID, Raw: raw, MessageID: insp.MessageID, From: insp.From,
		Subject: insp.Subject, CaseID: caseID, Opened: opened, OpenErr: openErr, Received: m.in.Received,
	}); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		// Not retried in a loop: held for the operator.
		return m.finish(ctx, held(ClassCommand, "command mail from "+member.Address+" failed: "+err.Error()), nil)
	}
	who := member.Address
	if m.opened.Signer != "" {
		who += " (signed by " + m.opened.Signer + ")"
	} else {
		who += " (not signed by their key: refused)"
	}
	return m.finish(ctx, done(ClassCommand, "from team member "+who), nil)
}

// threadCase finds the case a message replies to: by In-Reply-To and
// References (Message-IDs of our outgoing mail), then by the subject tag,
// the protected (encrypted or signed) subject's first.
func (m *msgCtx) threadCase(ctx context.Context) (int64, string, error) {
	ids := append(append([]string{}, m.insp.InReplyTo...), m.insp.References...)
	for i := len(ids) - 1; i >= 0 && len(ids)-i <= 20; i-- {
		if ids[i] == "" {
			continue
		}
		id, ok, err := m.p.o.Mailer.CaseForMessageID(ctx, ids[i])
		if err != nil {
			return 0, "", fmt.Errorf("intake: thread lookup: %w", err)
		}
		if ok && id != 0 {
			return id, "thread <" + ids[i] + ">", nil
		}
	}
	for _, ref := range m.caseTags() {
		c, ok, err := m.p.o.Cases.CaseByRef(ctx, m.tx, ref)
		if err != nil {
			return 0, "", fmt.Errorf("intake: case lookup: %w", err)
		}
		if ok {
			return c.ID, "subject tag [" + ref + "]", nil
		}
	}
	return 0, "", nil
}

// seenBefore looks up the message's replay identities (its session keys
// and plaintexts): the first message that had one of them and its sender.
// The same statement counts the cases its sender opened today, which a new
// report needs (casesOpenedToday, seenBeforeQuery).
func (m *msgCtx) seenBefore(ctx context.Context) (first int64, from string, ok bool, err error) {
	m.todayRead = false
	ids := m.identities()
	if len(ids) == 0 {
		return 0, "", false, nil
	}
	q, args := m.seenBeforeQuery(ids)
	var firstID sql.NullInt64
	var firstFrom sql.NullString
	if err := m.reader().QueryRowContext(ctx, q, args...).Scan(&m.today, &firstID, &firstFrom); err != nil {
		return 0, "", false, fmt.Errorf("intake: replay lookup: %w", err)
	}
	m.todayRead = m.insp.From != ""
	return firstID.Int64, firstFrom.String, firstID.Valid, nil
}

// identities are what the message protects, as the Opener recorded them.
func (m *msgCtx) identities() [][]byte {
	if m.opened == nil {
		return nil
	}
	return m.opened.Identities
}

// replay holds a message whose session key or plaintext arrived before.
// The sender gets the uniform answer of any held message; the team is
// alerted, once per original message and sender, when it comes from
// someone else than the first time.
func (m *msgCtx) replay(ctx context.Context, first int64, firstFrom string) error {
	var caseID sql.NullInt64
	var caseRef string
	// The case of an archived report is in the archive: the alert goes to
	// the team outside any case, naming it.
	if err := m.reader().QueryRowContext(ctx, `SELECT CASE WHEN c.id IS NULL THEN NULL ELSE i.case_id END, coalesce(c.ref, a.ref || ' (archived)', '')
		FROM inbound i LEFT JOIN cases c ON c.id = i.case_id LEFT JOIN archived_case a ON a.id = i.case_id WHERE i.id = ?`, first).
		Scan(&caseID, &caseRef); err != nil {
		return fmt.Errorf("intake: replay lookup: %w", err)
	}
	why := fmt.Sprintf("already received: the same encrypted content arrived before (inbound %d from %s", first, firstFrom)
	if caseRef != "" {
		why += ", case " + caseRef
	}
	why += ")"
	return m.finish(ctx, held(ClassReplay, why), func(tx *sql.Tx, _ *outcome) error {
		data := m.baseData()
		data.Reason = uniformReason
		if err := m.answerOnce(ctx, tx, TemplateQuarantined, data); err != nil {
			return err
		}
		if strings.EqualFold(firstFrom, m.insp.From) {
			return nil
		}
		res, err := tx.ExecContext(ctx, `INSERT INTO inbound_replay_alert (first_inbound, sender) VALUES (?, ?) ON CONFLICT DO NOTHING`, first, m.insp.From)
		if err != nil {
			return fmt.Errorf("intake: record replay alert: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil // the team was told of this sender and message
		}
		where := ""
		if caseRef != "" {
			where = " of case " + caseRef
		}
		text := fmt.Sprintf("An encrypted message received earlier%s (inbound %d, from %s) was sent again from %s (inbound %d),\n"+
			"re-encoded or wrapped so that it looks new: it holds the same session key or the same plaintext.\n"+
			"It was quarantined without opening it into a case or quoting it to anyone. This may be an\n"+
			"attempt to obtain the plaintext. Further copies from %s are held without another alert.\n",
			where, first, firstFrom, m.insp.From, m.in.ID, m.insp.From)
		return m.p.o.Cases.Alert(ctx, tx, caseID.Int64, "Re-sent ciphertext quarantined", text)
	})
}

// KindSenderNotice is the outbox kind of intake's answer to a sender whose
// message was held or encrypted to a key we do not hold: the one answer to
// someone outside the team that may leave in clear (it quotes nothing).
const KindSenderNotice = "sender-notice"

// uniformReason is what a sender is told of any message held for a
// reason that must not be told (a replay): the same for all of them.
const uniformReason = "it could not be processed automatically"

// wrongKey answers, once, a report encrypted to a key we do not hold.
func (m *msgCtx) wrongKey(ctx context.Context, keyIDs []string) error {
	why := "encrypted to a key we do not hold"
	if len(keyIDs) > 0 {
		why += " (" + strings.Join(keyIDs, ", ") + ")"
	}
	return m.finish(ctx, held(ClassWrongKey, why), func(tx *sql.Tx, _ *outcome) error {
		data := m.baseData()
		data.WrongKey.KeyIDs = keyIDs
		return m.answerOnce(ctx, tx, TemplateWrongKey, data)
	})
}

// hold quarantines the message and answers the sender politely, once per
// period and only when they may be answered at all.
func (m *msgCtx) hold(ctx context.Context, class, reason, tmpl string) error {
	return m.finish(ctx, held(class, reason), func(tx *sql.Tx, _ *outcome) error {
		data := m.baseData()
		data.Reason = reason
		return m.answerOnce(ctx, tx, tmpl, data)
	})
}

func (m *msgCtx) baseData() templates.Data {
	d := templates.Data{Project: m.p.o.Project, Now: m.now}
	d.Recipient = templates.Person{Name: templates.HeaderSafe(m.insp.FromName), Address: m.insp.From}
	// Only the outer subject, which the sender wrote in clear.
	if !m.insp.Encrypted {
		d.Message.Subject = templates.HeaderSafe(m.insp.Subject)
	}
	return d
}

// answerable reports whether m's sender may get an automatic answer.
func (m *msgCtx) answerable() bool {
	return m.insp.answerable(m.p.o.Self, m.p.o.Config.OwnLists, m.released)
}

// answerOnce enqueues an automatic answer from template tmpl unless the
// sender must not be answered or already got one of this kind recently.
func (m *msgCtx) answerOnce(ctx context.Context, tx *sql.Tx, tmpl string, data templates.Data) error {
	if !m.answerable() {
		return nil
	}
	var at int64
	err := tx.QueryRowContext(ctx, `SELECT at FROM inbound_answer WHERE sender = ? AND kind = ?`, m.insp.From, tmpl).Scan(&at)
	if err == nil && m.now.Sub(store.Time(at)) < m.p.o.Config.AnswerOnce {
		return nil
	}
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("intake: answer lookup: %w", err)
	}
	text, err := m.p.render(tmpl, data)
	if err != nil {
		return fmt.Errorf("intake: render %s: %w", tmpl, err)
	}
	mail := OutMail{
		Kind: KindSenderNotice, NoticeID: fmt.Sprintf("intake-%s-%d", tmpl, m.in.ID),
		Subject: text.Subject, Body: text.Body, Auto: true,
		Recipients: []Recipient{{Name: data.Recipient.Name, Address: m.insp.From}},
		InReplyTo:  m.insp.MessageID,
	}
	if m.p.o.TeamKey != "" {
		mail.Attachments = []Attachment{teamKeyAttachment(m.p.o.TeamKey)}
	}
	if _, err := m.enqueue(ctx, tx, mail); err != nil {
		return fmt.Errorf("intake: enqueue %s answer: %w", tmpl, err)
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO inbound_answer (sender, kind, at) VALUES (?, ?, ?)
		ON CONFLICT (sender, kind) DO UPDATE SET at = excluded.at`, m.insp.From, tmpl, store.Millis(m.now))
	if err != nil {
		return fmt.Errorf("intake: record answer: %w", err)
	}
	return nil
}

func teamKeyAttachment(armored string) Attachment {
	return Attachment{Filename: "team-key.asc", ContentType: "application/pgp-keys", Data: []byte(armored)}
}

// armorKey wraps the base64 keydata of an Autocrypt header in ASCII armor.
func armorKey(keydata string) string {
	var b strings.Builder
	b.WriteString("-----BEGIN PGP PUBLIC KEY BLOCK-----\n\n")
	for len(keydata) > 64 {
		b.WriteString(keydata[:64] + "\n")
		keydata = keydata[64:]
	}
	b.WriteString(keydata + "\n-----END PGP PUBLIC KEY BLOCK-----\n")
	return b.String()
}

// reporterKey picks the key replies to the sender are encrypted to. A
// validly signed message names its key by its signature: the signer's key
// is taken only if one of its user IDs is the From address, and no other
// key (attached, Autocrypt) is ever taken in its place, for anyone can
// attach a key to a copy of someone else's signed mail. An unsigned message
// offers an attached key or its Autocrypt header's; the workflow takes it
// only if a user ID of it is the From address.
func (m *msgCtx) reporterKey() string {
	if op := m.opened; op.Signer != "" {
		if op.SignerKey != "" && m.signerIsSender() {
			return op.SignerKey
		}
		return ""
	}
	for _, a := range m.opened.Attachments {
		if a.Stored == nil && (strings.EqualFold(a.ContentType, "application/pgp-keys") || bytes.Contains(a.Data, pgpKey)) {
			return string(a.Data)
		}
	}
	if i := strings.Index(m.opened.Text, string(pgpKey)); i >= 0 {
		end := strings.Index(m.opened.Text[i:], "-----END PGP PUBLIC KEY BLOCK-----")
		if end > 0 {
			return m.opened.Text[i : i+end+len("-----END PGP PUBLIC KEY BLOCK-----")]
		}
	}
	if m.insp.Autocrypt != "" {
		return armorKey(m.insp.Autocrypt)
	}
	return ""
}

// signerIsSender reports whether a user ID of the signer's key is the From
// address.
func (m *msgCtx) signerIsSender() bool {
	for _, e := range m.opened.SignerEmails {
		if strings.EqualFold(addrSpec(e), m.insp.From) {
			return true
		}
	}
	return false
}

// finish records the outcome (and runs effects, if any) in one transaction.
// The transaction records it only while the message awaits processing, and
// rolls back otherwise (recordOutcome), so that a message is never handled
// twice. A note the message was stored with (how a shared mailbox routed
// it, storeRouted) is kept after the outcome's reason.
func (m *msgCtx) finish(ctx context.Context, o outcome, effects func(tx *sql.Tx, o *outcome) error) error {
	if m.in.State == StateStored && m.in.Reason != "" {
		o.reason += "; " + m.in.Reason
	}
	body := func(tx *sql.Tx) error {
		if effects != nil {
			if err := effects(tx, &o); err != nil {
				return err
			}
		}
		var caseID any
		if o.caseID != 0 {
			caseID = o.caseID
		}
		if err := recordIdentities(ctx, tx, m.identities(), m.in.ID, m.insp.From); err != nil {
			return err
		}
		if err := m.dropParts(ctx, tx); err != nil {
			return err
		}
		return m.recordOutcome(ctx, tx, o, caseID)
	}
	var err error
	if m.tx != nil {
		// Inside the group's transaction; runGroup kicks. A message
		// handled meanwhile fails, so that the group's transaction rolls
		// back what it wrote; run alone, it then ends here.
		if err = body(m.tx); errors.Is(err, errAlreadyDone) {
			return fmt.Errorf("intake: inbound %d: %w meanwhile", m.in.ID, err)
		}
	} else if err = m.p.o.DB.Tx(ctx, body); err == nil && effects != nil {
		m.p.o.Mailer.Kick()
	}
	if errors.Is(err, errAlreadyDone) {
		return nil
	}
	if err != nil {
		return err
	}
	m.p.o.Log.Info("intake: message handled", "inbound", m.in.ID, "state", o.state, "class", o.class, "reason", o.reason, "case", o.caseID)
	return nil
}

var errAlreadyDone = errors.New("already processed")
