package intake

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/secgate/secgate/distlist"
	"github.com/secgate/secgate/internal/clock"
	"github.com/secgate/secgate/store"
)

// Handler processes one stored inbound message. It must be idempotent: it
// is called again for a message whose processing state is still "stored"
// after a crash. On success the message's state is no longer "stored"; an
// error leaves the message in the mailbox to be retried.
type Handler interface {
	Process(ctx context.Context, id int64) error
}

// BatchHandler is a Handler that can process several messages at once (in
// order); the Poller prefers it. *Processor implements it.
type BatchHandler interface {
	ProcessBatch(ctx context.Context, ids []int64) error
}

// Poller watches the configured mailbox and feeds new messages to a
// Handler: one project's (NewPoller), or each to its project's when
// several projects share the mailbox (NewRoutedPoller).
type Poller struct {
	cfg    Config
	routes []*route // the projects' databases and handlers; one for NewPoller
	home   *route   // holds the mailbox's state and the mail no project owns
	router *Router  // nil: every message is home's
	// mailbox is the watched mailbox's name in the inbound tables.
	mailbox string
	clock   clock.Clock
	log     *slog.Logger

	// TLSConfig, when set, is used for tls and starttls connections.
	TLSConfig *tls.Config
	// OnConnected, when set, is told when the poller starts watching the
	// mailbox (true) and when its session ends (false); for metrics.
	OnConnected func(bool)

	// hook, when set (tests), is called after each step ("stored",
	// "processed", "moved"; "stored-in-project" when routed, before the
	// last UID advances); an error aborts the session as a crash would.
	hook func(step string) error
	// stats, when set (tests, benchmarks), is told each message handled.
	stats func(id int64)

	kick chan struct{} // Kick: look for new mail now
	// woke, when set (tests), is told why IDLE ended: "mail", "push",
	// "refresh".
	woke func(by string)
}

// NewPoller returns a poller. cfg is completed with defaults.
func NewPoller(cfg Config, db *store.DB, rest AtRest, h Handler, clk clock.Clock, log *slog.Logger) (*Poller, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Check(); err != nil {
		return nil, err
	}
	if clk == nil {
		clk = clock.Real{}
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	r := &route{db: db, rest: rest, handler: h}
	return &Poller{cfg: cfg, routes: []*route{r}, home: r, mailbox: cfg.Mailbox, clock: clk, log: log, kick: make(chan struct{}, 1)}, nil
}

// Kick makes the poller look for new mail now, as if the server had
// announced it: it ends IDLE (or the poll wait) and fetches. A push
// notification from the server calls it; it carries nothing else.
func (p *Poller) Kick() {
	select {
	case p.kick <- struct{}{}:
	default:
	}
}

// Run polls until ctx is done, reconnecting with backoff and jitter after
// every failure. It returns ctx's error.
func (p *Poller) Run(ctx context.Context) error {
	wait := p.cfg.BackoffMin
	for {
		healthy := false
		err := p.session(ctx, &healthy)
		if healthy && p.OnConnected != nil {
			p.OnConnected(false)
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if healthy {
			wait = p.cfg.BackoffMin // it got as far as watching the mailbox
		}
		d := jitter(wait)
		p.log.Warn("intake: imap session ended; reconnecting", "err", err, "in", d)
		t := p.clock.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C():
		}
		wait = min(2*wait, p.cfg.BackoffMax)
	}
}

// jitter returns a duration uniformly drawn from [d/2, d].
func jitter(d time.Duration) time.Duration {
	if d <= 1 {
		return d
	}
	return d/2 + rand.N(d/2+1)
}

func (p *Poller) password() (string, error) {
	if p.cfg.PasswordFile == "" {
		return "", nil
	}
	b, err := os.ReadFile(p.cfg.PasswordFile)
	if err != nil {
		return "", fmt.Errorf("intake: read password file: %w", err)
	}
	line, _, _ := strings.Cut(string(b), "\n")
	return strings.TrimRight(line, "\r"), nil
}

func (p *Poller) dial(opts *imapclient.Options) (*imapclient.Client, error) {
	host, _, _ := net.SplitHostPort(p.cfg.Address)
	tc := p.TLSConfig
	if tc == nil {
		tc = &tls.Config{}
	}
	tc = tc.Clone()
	if tc.ServerName == "" {
		tc.ServerName = host
		if p.cfg.ServerName != "" {
			tc.ServerName = p.cfg.ServerName
		}
	}
	tc.MinVersion = max(tc.MinVersion, tls.VersionTLS12)
	opts.TLSConfig = tc
	switch p.cfg.TLS {
	case TLSImplicit:
		return imapclient.DialTLS(p.cfg.Address, opts)
	case TLSStartTLS:
		return imapclient.DialStartTLS(p.cfg.Address, opts)
	case TLSPlainLoopback:
		if !distlist.IsLoopback(host) {
			return nil, fmt.Errorf("intake: refusing plain IMAP to non-loopback %s", host)
		}
		opts.TLSConfig = nil
		return imapclient.DialInsecure(p.cfg.Address, opts)
	}
	return nil, fmt.Errorf("intake: unknown tls mode %q", p.cfg.TLS)
}

// session runs one connection: login, select, catch up, then wait for new
// mail until something fails.
func (p *Poller) session(ctx context.Context, healthy *bool) error {
	pass, err := p.password()
	if err != nil {
		return err
	}
	wake := make(chan struct{}, 1)
	signal := func() {
		select {
		case wake <- struct{}{}:
		default:
		}
	}
	opts := &imapclient.Options{UnilateralDataHandler: &imapclient.UnilateralDataHandler{
		// Runs on the client's reader goroutine: only signal.
		Mailbox: func(d *imapclient.UnilateralDataMailbox) {
			if d.NumMessages != nil {
				signal()
			}
		},
	}}
	c, err := p.dial(opts)
	if err != nil {
		return fmt.Errorf("intake: dial %s: %w", p.cfg.Address, err)
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()

	if err := c.Login(p.cfg.User, pass).Wait(); err != nil {
		return fmt.Errorf("intake: login as %s: %w", p.cfg.User, err)
	}
	for _, f := range []string{p.cfg.Processed, p.cfg.Quarantine} {
		if err := ensureFolder(c, f); err != nil {
			return err
		}
	}
	sel, err := c.Select(p.cfg.Mailbox, nil).Wait()
	if err != nil {
		return fmt.Errorf("intake: select %s: %w", p.cfg.Mailbox, err)
	}
	uv, _, err := mailboxState(ctx, p.home.db.Reader(), p.mailbox)
	if err != nil {
		return err
	}
	if uv != sel.UIDValidity {
		if uv != 0 {
			p.log.Warn("intake: UIDVALIDITY changed; resynchronising the whole mailbox", "mailbox", p.cfg.Mailbox, "old", uv, "new", sel.UIDValidity)
		}
		if err := resetMailbox(ctx, p.home.db, p.mailbox, sel.UIDValidity); err != nil {
			return err
		}
	}
	if p.cfg.Push {
		p.askPush(c)
	}
	if err := p.dropSpool(ctx); err != nil {
		return err
	}
	p.log.Info("intake: watching mailbox", "mailbox", p.cfg.Mailbox, "uidvalidity", sel.UIDValidity, "messages", sel.NumMessages)
	idle := c.Caps().Has(imap.CapIdle) || c.Caps().Has(imap.CapIMAP4rev2)
	for {
		if err := p.sync(ctx, c, sel.UIDValidity); err != nil {
			return err
		}
		if !*healthy && p.OnConnected != nil {
			p.OnConnected(true)
		}
		*healthy = true // a full sync worked: reconnect quickly next time
		if idle {
			err = p.idle(ctx, c, wake)
		} else {
			err = p.poll(ctx, c, wake)
		}
		if err != nil {
			return err
		}
	}
}

func ensureFolder(c *imapclient.Client, name string) error {
	if _, err := c.Status(name, &imap.StatusOptions{NumMessages: true}).Wait(); err == nil {
		return nil
	}
	err := c.Create(name, nil).Wait()
	var ie *imap.Error
	if err != nil && !(errors.As(err, &ie) && ie.Code == imap.ResponseCodeAlreadyExists) {
		return fmt.Errorf("intake: create folder %s: %w", name, err)
	}
	return nil
}

// idle waits in IDLE for new mail, the refresh interval, or a failure.
func (p *Poller) idle(ctx context.Context, c *imapclient.Client, wake <-chan struct{}) error {
	cmd, err := c.Idle()
	if err != nil {
		return fmt.Errorf("intake: idle: %w", err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t := p.clock.NewTimer(p.cfg.IdleRefresh)
	defer t.Stop()
	refresh := false
	by := ""
	select {
	case <-wake:
		by = "mail"
	case <-p.kick:
		by = "push"
	case <-t.C():
		refresh, by = true, "refresh"
	case <-ctx.Done():
	case err := <-done:
		if err == nil {
			err = errors.New("server ended IDLE")
		}
		return fmt.Errorf("intake: idle: %w", err)
	case <-c.Closed():
	}
	if err := cmd.Close(); err != nil {
		return fmt.Errorf("intake: end idle: %w", err)
	}
	if err := <-done; err != nil {
		return fmt.Errorf("intake: idle: %w", err)
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if p.woke != nil && by != "" {
		p.woke(by)
	}
	if refresh {
		if err := c.Noop().Wait(); err != nil {
			return fmt.Errorf("intake: noop: %w", err)
		}
	}
	return nil
}

// poll waits for the poll interval (or a mail signal) and sends a NOOP, for
// servers without IDLE.
func (p *Poller) poll(ctx context.Context, c *imapclient.Client, wake <-chan struct{}) error {
	t := p.clock.NewTimer(p.cfg.PollInterval)
	defer t.Stop()
	select {
	case <-wake:
	case <-p.kick:
	case <-t.C():
	case <-ctx.Done():
		return ctx.Err()
	case <-c.Closed():
		return errors.New("intake: connection closed")
	}
	if err := c.Noop().Wait(); err != nil {
		return fmt.Errorf("intake: noop: %w", err)
	}
	return nil
}

func (p *Poller) step(name string) error {
	if p.hook != nil {
		return p.hook(name)
	}
	return nil
}

// sync handles everything outstanding: messages stored but not processed
// (after a crash), new messages on the server, and handled messages not yet
// moved.
//
// New messages go through in batches, two at a time: while one batch is
// processed in the background, the next is fetched and stored, so that the
// IMAP round trips and the storing transaction use the core the processing
// leaves idle. The messages of both batches together stay within
// FetchBytes (one bigger message goes alone). Each batch is stored before
// it is processed and processed before it is moved, as without overlap.
func (p *Poller) sync(ctx context.Context, c *imapclient.Client, uidValidity uint32) (err error) {
	if err := p.processPending(ctx); err != nil {
		return err
	}
	if err := p.moveHandled(ctx, c, uidValidity); err != nil {
		return err
	}
	var busy *processing // the batch being processed, if any
	defer func() {
		if busy != nil {
			err = errors.Join(err, busy.wait())
		}
	}()
	// finish waits for the batch in processing and moves it.
	finish := func() error {
		b := busy
		busy = nil
		if err := b.wait(); err != nil {
			return err
		}
		if err := p.step("processed"); err != nil {
			return err
		}
		if err := p.moveHandled(ctx, c, uidValidity); err != nil {
			return err
		}
		return p.step("moved")
	}
	for {
		// Alone, a small batch first: the processing begins while
		// the rest of a burst is fetched.
		limit := p.cfg.FetchBatch
		if busy == nil {
			limit = min(limit, firstBatch)
		}
		uids, err := p.newUIDs(ctx, c, limit)
		if err != nil {
			return err
		}
		if len(uids) == 0 {
			break
		}
		budget, alone := p.cfg.FetchBytes, true
		if busy != nil {
			budget, alone = p.cfg.FetchBytes-busy.bytes, false
		}
		msgs, err := p.fetch(ctx, c, uids, budget, alone)
		if err != nil {
			return err
		}
		if len(msgs) == 0 {
			if busy == nil {
				return nil
			}
			// Nothing fits beside the batch in processing.
			if err := finish(); err != nil {
				return err
			}
			continue
		}
		ids, err := p.store(ctx, uidValidity, msgs)
		if err != nil {
			return err
		}
		if err := p.step("stored"); err != nil {
			return err
		}
		if busy != nil {
			if err := finish(); err != nil {
				return err
			}
		}
		var n int64
		for _, m := range msgs {
			n += m.bytes()
		}
		busy = p.startProcessing(ctx, ids, n)
	}
	if busy != nil {
		return finish()
	}
	return nil
}

// firstBatch bounds the batch fetched while none is being processed.
const firstBatch = 32

// newUIDs returns the UIDs on the server above the last one stored, lowest
// first, at most limit of them.
func (p *Poller) newUIDs(ctx context.Context, c *imapclient.Client, limit int) ([]imap.UID, error) {
	_, last, err := mailboxState(ctx, p.home.db.Reader(), p.mailbox)
	if err != nil {
		return nil, err
	}
	var set imap.UIDSet
	set.AddRange(imap.UID(last+1), 0)
	sd, err := c.UIDSearch(&imap.SearchCriteria{UID: []imap.UIDSet{set}}, nil).Wait()
	if err != nil {
		return nil, fmt.Errorf("intake: search: %w", err)
	}
	var uids []imap.UID
	for _, u := range sd.AllUIDs() {
		if uint32(u) > last { // "N:*" always matches the highest UID
			uids = append(uids, u)
		}
	}
	slices.Sort(uids)
	if len(uids) > limit {
		uids = uids[:limit]
	}
	return uids, nil
}

// routeIDs are stored messages of one route.
type routeIDs struct {
	r     *route
	ids   []int64
	given map[int64]*storedCopy // the messages handed over as stored (handOver)
}

// store stores a fetched batch and advances the mailbox's last UID: in the
// one database, or each message in its project's (storeRouted).
func (p *Poller) store(ctx context.Context, uidValidity uint32, msgs []fetched) ([]routeIDs, error) {
	if p.router != nil {
		return p.storeRouted(ctx, uidValidity, msgs)
	}
	ids, err := storeBatch(ctx, p.home.db, p.home.rest, p.mailbox, uidValidity, msgs, p.clock.Now())
	if err != nil {
		return nil, err
	}
	return []routeIDs{{p.home, ids, handedOver(msgs, ids)}}, nil
}

// processing is a batch of stored messages being processed in the
// background.
type processing struct {
	bytes int64 // of the batch's messages as fetched
	done  chan struct{}
	err   error
}

// startProcessing processes in the background those of the stored batch
// ids that still await processing, and only those: the next batch is
// stored meanwhile and waits for its own turn.
func (p *Poller) startProcessing(ctx context.Context, batch []routeIDs, bytes int64) *processing {
	b := &processing{bytes: bytes, done: make(chan struct{})}
	go func() {
		defer close(b.done)
		for _, rb := range batch {
			if b.err = p.processAmong(ctx, rb); b.err != nil {
				return
			}
		}
	}()
	return b
}

func (b *processing) wait() error {
	<-b.done
	return b.err
}

// fetch fetches the given messages in UID order while they fit budget
// bytes (with alone, one bigger message alone): whole when within the size
// limit, the header only otherwise (the whole message stays on the server
// and goes to Quarantine).
func (p *Poller) fetch(ctx context.Context, c *imapclient.Client, uids []imap.UID, budget int64, alone bool) ([]fetched, error) {
	sizes, err := c.Fetch(imap.UIDSetNum(uids...), &imap.FetchOptions{UID: true, RFC822Size: true}).Collect()
	if err != nil {
		return nil, fmt.Errorf("intake: fetch sizes: %w", err)
	}
	var small, large []imap.UID
	size := map[imap.UID]int64{}
	slices.SortFunc(sizes, func(a, b *imapclient.FetchMessageBuffer) int { return int(a.UID) - int(b.UID) })
	var total int64
	for i, m := range sizes {
		// The rest waits for the next round.
		body := m.RFC822Size
		if body > p.cfg.MaxSize {
			body = 64 << 10 // only its header is fetched
		}
		if (i > 0 || !alone) && total+body > budget {
			break
		}
		total += body
		size[m.UID] = m.RFC822Size
		if m.RFC822Size > p.cfg.MaxSize {
			large = append(large, m.UID)
		} else {
			small = append(small, m.UID)
		}
	}
	var out []fetched
	get := func(set []imap.UID, sec *imap.FetchItemBodySection, partial bool) error {
		if len(set) == 0 {
			return nil
		}
		// Each literal is read into a buffer of its announced size rather
		// than grown while it arrives.
		cmd := c.Fetch(imap.UIDSetNum(set...), &imap.FetchOptions{UID: true, BodySection: []*imap.FetchItemBodySection{sec}})
		for msg := cmd.Next(); msg != nil; msg = cmd.Next() {
			var uid imap.UID
			var raw []byte
			var sp *spooled
			for item := msg.Next(); item != nil; item = msg.Next() {
				switch it := item.(type) {
				case imapclient.FetchItemDataUID:
					uid = it.UID
				case imapclient.FetchItemDataBodySection:
					if it.Literal == nil {
						continue
					}
					if !partial && p.spoolable(it.Literal.Size()) {
						sp, err = p.spool(ctx, it.Literal)
					} else {
						raw, err = readLiteral(it.Literal, p.cfg.MaxSize)
					}
					if err != nil {
						// Closing the command now would read the broken
						// literal again, racing go-imap's decoder: drop
						// the connection instead; the session reconnects.
						c.Close()
						return fmt.Errorf("intake: fetch: %w", err)
					}
				}
			}
			if uid == 0 {
				continue
			}
			if raw == nil && sp == nil {
				// A NIL body: never store a placeholder (its hash would
				// collide with the next one); try again later.
				cmd.Close()
				return fmt.Errorf("intake: fetch uid %d: no body returned", uid)
			}
			out = append(out, fetched{uid: uint32(uid), size: size[uid], raw: raw, spool: sp, partial: partial})
		}
		if err := cmd.Close(); err != nil {
			return fmt.Errorf("intake: fetch: %w", err)
		}
		return nil
	}
	if err := get(small, &imap.FetchItemBodySection{Peek: true}, false); err != nil {
		return nil, err
	}
	if err := get(large, &imap.FetchItemBodySection{Peek: true, Specifier: imap.PartSpecifierHeader}, true); err != nil {
		return nil, err
	}
	slices.SortFunc(out, func(a, b fetched) int { return int(a.uid) - int(b.uid) })
	return out, nil
}

// readLiteral reads a literal whole into a buffer of its announced size; a
// literal announced bigger than twice max (the size limit; what exceeds it
// is fetched as its header only) is refused.
func readLiteral(lit imap.LiteralReader, max int64) ([]byte, error) {
	n := lit.Size()
	if n < 0 || n > literalMax(max) {
		return nil, fmt.Errorf("literal of %d bytes refused (the size limit is %d)", n, max)
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(lit, b); err != nil {
		return nil, err
	}
	return b, nil
}

func (p *Poller) processPending(ctx context.Context) error {
	for _, r := range p.routes {
		ids, err := pending(ctx, r.db.Reader())
		if err != nil {
			return err
		}
		if err := p.process(ctx, r, ids, nil); err != nil {
			return err
		}
	}
	return nil
}

// processAmong processes those of rb's ids, stored in its route's
// database, that await processing, handing over those it may.
func (p *Poller) processAmong(ctx context.Context, rb routeIDs) error {
	all, err := pending(ctx, rb.r.db.Reader())
	if err != nil {
		return err
	}
	batch := make(map[int64]bool, len(rb.ids))
	for _, id := range rb.ids {
		batch[id] = true
	}
	return p.process(ctx, rb.r, slices.DeleteFunc(all, func(id int64) bool { return !batch[id] }), rb.given)
}

// process has r's handler process the stored messages ids, in order, the
// handler taking those in given as stored when it can (storedHandler).
func (p *Poller) process(ctx context.Context, r *route, ids []int64, given map[int64]*storedCopy) error {
	sh, handing := r.handler.(storedHandler)
	handing = handing && len(given) > 0
	if bh, ok := r.handler.(BatchHandler); handing || ok && len(ids) > 1 {
		for len(ids) > 0 {
			batch := ids[:min(len(ids), p.cfg.FetchBatch)]
			ids = ids[len(batch):]
			var err error
			if handing {
				err = sh.processStored(ctx, batch, given)
			} else {
				err = bh.ProcessBatch(ctx, batch)
			}
			if err != nil {
				return fmt.Errorf("intake: process batch: %w", err)
			}
			if p.stats != nil {
				for _, id := range batch {
					p.stats(id)
				}
			}
		}
		return nil
	}
	for _, id := range ids {
		if err := r.handler.Process(ctx, id); err != nil {
			return fmt.Errorf("intake: process inbound %d: %w", id, err)
		}
		if p.stats != nil {
			p.stats(id)
		}
	}
	return nil
}

// routeMoves are the handled messages to move to one folder, of every
// route.
type routeMoves struct {
	uids []imap.UID
	ids  []routeIDs // to mark moved, per route
}

func (p *Poller) moveHandled(ctx context.Context, c *imapclient.Client, uidValidity uint32) error {
	moves := map[string]*routeMoves{}
	for _, r := range p.routes {
		rm, err := pendingMoves(ctx, r.db.Reader(), p.mailbox, uidValidity)
		if err != nil {
			return err
		}
		for state, mv := range rm {
			all := moves[state]
			if all == nil {
				all = &routeMoves{}
				moves[state] = all
			}
			for _, u := range mv.uids {
				all.uids = append(all.uids, imap.UID(u))
			}
			all.ids = append(all.ids, routeIDs{r: r, ids: mv.ids})
		}
	}
	for state, mv := range moves {
		dest := p.cfg.Processed
		if state == StateQuarantined {
			dest = p.cfg.Quarantine
		}
		uids := mv.uids
		// Only the UIDs still there: after a crash between MOVE and its
		// record some are gone already, and servers differ on a MOVE of
		// missing UIDs.
		sd, err := c.UIDSearch(&imap.SearchCriteria{UID: []imap.UIDSet{imap.UIDSetNum(uids...)}}, nil).Wait()
		if err != nil {
			return fmt.Errorf("intake: search before move: %w", err)
		}
		if present := sd.AllUIDs(); len(present) > 0 {
			if _, err := c.Move(imap.UIDSetNum(present...), dest).Wait(); err != nil {
				return fmt.Errorf("intake: move %d messages to %s: %w", len(present), dest, err)
			}
		}
		// A crash here moves again on restart: UID MOVE of UIDs that are
		// gone is a no-op.
		if err := p.step("moved-on-server"); err != nil {
			return err
		}
		for _, rb := range mv.ids {
			if err := markMoved(ctx, rb.r.db, rb.ids); err != nil {
				return err
			}
		}
	}
	return nil
}
