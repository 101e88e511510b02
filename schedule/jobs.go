package schedule

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/secgate/secgate/store"
)

// Job kinds, in timeline order.
const (
	JobEmbargoNotice    = "embargo-notice"
	JobEmbargoChange    = "embargo-change"
	JobPreReleaseNotice = "prerelease-notice"
	JobAnnouncement     = "announcement"
	JobRetrospective    = "retrospective"
)

// seq orders jobs due at the same moment.
var jobSeq = map[string]int{
	JobEmbargoNotice:    10,
	JobEmbargoChange:    10,
	JobPreReleaseNotice: 20,
	JobAnnouncement:     30,
	JobRetrospective:    40,
}

// Job states.
const (
	JobPending   = "pending"
	JobDone      = "done"
	JobSkipped   = "skipped"
	JobCancelled = "cancelled"
	JobFailed    = "failed"
)

// Job is one step of a case's timeline.
type Job struct {
	ID         int64
	CaseID     int64
	Kind       string
	Generation int64
	Due        time.Time
	State      string
	Attempts   int
	Detail     JobDetail
	Result     string
	Finished   time.Time
}

// JobDetail holds a job's parameters.
type JobDetail struct {
	Reason   string `json:"reason,omitempty"`   // why (re-plan, publish now)
	Previous int64  `json:"previous,omitempty"` // T0 replaced (embargo-change), unix millis
	Actor    string `json:"actor,omitempty"`    // who asked
	// Withdrawn is the state (invalid, wontfix, opinion) that ended the
	// case, for the embargo-change job that tells the distributors.
	Withdrawn string `json:"withdrawn,omitempty"`
	// List is the embargo list a notice job tells ("" in jobs made
	// before there were several: the configured embargo list).
	List string `json:"list,omitempty"`
}

// querier is a transaction or a connection pool.
type querier interface {
	ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row
}

const jobCols = `id, case_id, kind, generation, due, state, attempts, detail, result, finished`

func scanJob(sc interface{ Scan(...any) error }) (Job, error) {
	var j Job
	var due, fin int64
	var detail string
	if err := sc.Scan(&j.ID, &j.CaseID, &j.Kind, &j.Generation, &due, &j.State, &j.Attempts, &detail, &j.Result, &fin); err != nil {
		return j, err
	}
	j.Due, j.Finished = store.Time(due), store.Time(fin)
	if detail != "" {
		if err := json.Unmarshal([]byte(detail), &j.Detail); err != nil {
			return j, fmt.Errorf("job %d detail: %w", j.ID, err)
		}
	}
	return j, nil
}

func insertJob(ctx context.Context, tx *sql.Tx, j *Job, now time.Time) error {
	detail, err := json.Marshal(j.Detail)
	if err != nil {
		return err
	}
	if string(detail) == "{}" {
		detail = nil
	}
	res, err := tx.ExecContext(ctx, `INSERT INTO schedule_job (case_id, kind, generation, due, seq, state, detail, created)
		VALUES (?, ?, ?, ?, ?, 'pending', ?, ?)`, j.CaseID, j.Kind, j.Generation, store.Millis(j.Due), jobSeq[j.Kind], string(detail), store.Millis(now))
	if err != nil {
		return fmt.Errorf("schedule: add %s job: %w", j.Kind, err)
	}
	j.ID, err = res.LastInsertId()
	j.State = JobPending
	return err
}

// cancelPending cancels the case's pending jobs and returns how many.
func cancelPending(ctx context.Context, tx *sql.Tx, caseID int64, why string, now time.Time) (int64, error) {
	res, err := tx.ExecContext(ctx, `UPDATE schedule_job SET state = 'cancelled', result = ?, finished = ?
		WHERE case_id = ? AND state = 'pending'`, why, store.Millis(now), caseID)
	if err != nil {
		return 0, fmt.Errorf("schedule: cancel jobs: %w", err)
	}
	return res.RowsAffected()
}

// finishJob marks a claimed job done or skipped with its result.
func finishJob(ctx context.Context, tx *sql.Tx, id int64, state, result string, now time.Time) error {
	_, err := tx.ExecContext(ctx, `UPDATE schedule_job SET state = ?, result = ?, finished = ? WHERE id = ?`,
		state, result, store.Millis(now), id)
	if err != nil {
		return fmt.Errorf("schedule: finish job %d: %w", id, err)
	}
	return nil
}

// claimJob marks job id as taken inside tx; ok is false when it is no longer
// pending (another loop ran it, or it was cancelled).
func claimJob(ctx context.Context, tx *sql.Tx, id int64, now time.Time) (Job, bool, error) {
	res, err := tx.ExecContext(ctx, `UPDATE schedule_job SET state = 'done', attempts = attempts + 1, finished = ?
		WHERE id = ? AND state = 'pending'`, store.Millis(now), id)
	if err != nil {
		return Job{}, false, fmt.Errorf("schedule: claim job %d: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return Job{}, false, nil
	}
	j, err := scanJob(tx.QueryRowContext(ctx, `SELECT `+jobCols+` FROM schedule_job WHERE id = ?`, id))
	if err != nil {
		return Job{}, false, fmt.Errorf("schedule: claim job %d: %w", id, err)
	}
	return j, true, nil
}

// Jobs returns the jobs of a case in timeline order (all states), for the
// CLI and tests.
func (s *Scheduler) Jobs(ctx context.Context, caseID int64) ([]Job, error) {
	return listJobs(ctx, s.db.Reader(), `WHERE case_id = ? ORDER BY due, seq, id`, caseID)
}

func listJobs(ctx context.Context, q querier, where string, args ...any) ([]Job, error) {
	rows, err := q.QueryContext(ctx, `SELECT `+jobCols+` FROM schedule_job `+where, args...)
	if err != nil {
		return nil, fmt.Errorf("schedule: jobs: %w", err)
	}
	defer rows.Close()
	var js []Job
	for rows.Next() {
		j, err := scanJob(rows)
		if err != nil {
			return nil, fmt.Errorf("schedule: jobs: %w", err)
		}
		js = append(js, j)
	}
	return js, rows.Err()
}

// nextDue returns when the earliest pending job is due.
func nextDue(ctx context.Context, q querier) (time.Time, bool, error) {
	var due sql.NullInt64
	if err := q.QueryRowContext(ctx, `SELECT MIN(due) FROM schedule_job WHERE state = 'pending'`).Scan(&due); err != nil {
		return time.Time{}, false, fmt.Errorf("schedule: next job: %w", err)
	}
	if !due.Valid {
		return time.Time{}, false, nil
	}
	return store.Time(due.Int64), true, nil
}

// plan is the stored disclosure plan of a case.
type plan struct {
	CaseID     int64
	Policy     string
	T0         time.Time
	PreviousT0 time.Time
	NoticeAt   time.Time
	PreRelease time.Time
	RetroFrom  time.Time
	RetroTo    time.Time
	Forced     string
	Generation int64
	Notified   time.Time
	Published  time.Time
	Broken     string
	NoEmbargo  bool // planned without an embargo (no notices to the distributors)
	Created    time.Time
	// The reporter's consent (reporter_consent): ConsentAsked is when
	// they were asked to agree to the plan, zero when nothing waits for
	// them; ConsentT0 the disclosure time asked about or agreed to;
	// Consent who agreed and how, or why a lead went ahead without
	// them; ConsentCode the hash of the code of the proposal.
	ConsentAsked time.Time
	ConsentT0    time.Time
	Consent      string
	ConsentCode  string
}

// awaitingConsent reports whether nothing of the plan may go out before
// the reporter agrees.
func (p *plan) awaitingConsent() bool { return !p.ConsentAsked.IsZero() }

func loadPlan(ctx context.Context, q querier, caseID int64) (*plan, error) {
	var p plan
	var t0, prev, notice, pre, rf, rt, notified, published, created, asked, consentT0 int64
	err := q.QueryRowContext(ctx, `SELECT case_id, policy, t0, previous_t0, notice_at, prerelease_at, retro_from, retro_to,
		forced, generation, notified, published, broken, no_embargo, created, consent_asked, consent_t0, consent, consent_code
		FROM schedule_plan WHERE case_id = ?`, caseID).
		Scan(&p.CaseID, &p.Policy, &t0, &prev, &notice, &pre, &rf, &rt, &p.Forced, &p.Generation, &notified, &published, &p.Broken,
			&p.NoEmbargo, &created, &asked, &consentT0, &p.Consent, &p.ConsentCode)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("schedule: load plan of case %d: %w", caseID, err)
	}
	p.T0, p.PreviousT0, p.NoticeAt, p.PreRelease = store.Time(t0), store.Time(prev), store.Time(notice), store.Time(pre)
	p.RetroFrom, p.RetroTo, p.Notified, p.Published, p.Created = store.Time(rf), store.Time(rt), store.Time(notified), store.Time(published), store.Time(created)
	p.ConsentAsked, p.ConsentT0 = store.Time(asked), store.Time(consentT0)
	return &p, nil
}

// nextGeneration is the generation of a new plan of caseID: above that of
// every job it ever had, so that a plan made after a withdrawn one never
// reuses its notice IDs.
func nextGeneration(ctx context.Context, tx *sql.Tx, caseID int64) (int64, error) {
	var g int64
	if err := tx.QueryRowContext(ctx, `SELECT coalesce(max(generation), 0) + 1 FROM schedule_job WHERE case_id = ?`, caseID).Scan(&g); err != nil {
		return 0, fmt.Errorf("schedule: generation of case %d: %w", caseID, err)
	}
	return g, nil
}

func savePlan(ctx context.Context, tx *sql.Tx, p *plan, now time.Time) error {
	if p.Created.IsZero() {
		p.Created = now
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO schedule_plan (case_id, policy, t0, previous_t0, notice_at, prerelease_at,
		retro_from, retro_to, forced, generation, notified, published, broken, no_embargo, created, updated,
		consent_asked, consent_t0, consent, consent_code)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (case_id) DO UPDATE SET policy = excluded.policy, t0 = excluded.t0, previous_t0 = excluded.previous_t0,
		notice_at = excluded.notice_at, prerelease_at = excluded.prerelease_at, retro_from = excluded.retro_from,
		retro_to = excluded.retro_to, forced = excluded.forced, generation = excluded.generation, notified = excluded.notified,
		published = excluded.published, broken = excluded.broken, no_embargo = excluded.no_embargo, updated = excluded.updated,
		consent_asked = excluded.consent_asked, consent_t0 = excluded.consent_t0, consent = excluded.consent,
		consent_code = excluded.consent_code`,
		p.CaseID, p.Policy, store.Millis(p.T0), store.Millis(p.PreviousT0), store.Millis(p.NoticeAt), store.Millis(p.PreRelease),
		store.Millis(p.RetroFrom), store.Millis(p.RetroTo), p.Forced, p.Generation, store.Millis(p.Notified),
		store.Millis(p.Published), p.Broken, p.NoEmbargo, store.Millis(p.Created), store.Millis(now),
		store.Millis(p.ConsentAsked), store.Millis(p.ConsentT0), p.Consent, p.ConsentCode)
	if err != nil {
		return fmt.Errorf("schedule: save plan of case %d: %w", p.CaseID, err)
	}
	return nil
}

// CurrentPlan returns the stored disclosure plan of a case (ok is false when
// none was made), for `secgate case show` and the like. Published is the
// time the announcement went out, zero before.
func (s *Scheduler) CurrentPlan(ctx context.Context, caseID int64) (tl Timeline, published time.Time, ok bool, err error) {
	p, err := loadPlan(ctx, s.db.Reader(), caseID)
	if err != nil || p == nil {
		return Timeline{}, time.Time{}, false, err
	}
	tl = Timeline{Policy: p.Policy, T0: p.T0, Notice: p.NoticeAt, Notified: !p.Notified.IsZero(), NoEmbargo: p.NoEmbargo, PreRelease: p.PreRelease,
		RetroFrom: p.RetroFrom, RetroTo: p.RetroTo, Forced: p.Forced, AwaitingConsent: p.awaitingConsent(), Consent: p.Consent}
	if tl.Notified {
		tl.Notice = p.Notified
	}
	return tl, p.Published, true, nil
}
