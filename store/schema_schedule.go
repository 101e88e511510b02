package store

// schemaSchedule holds the tables owned by package schedule: the disclosure
// plan of each case, the durable timeline jobs and the SLA reminders sent.
const schemaSchedule = `
-- schedule_plan: the current disclosure plan of a case (one row per case).
CREATE TABLE schedule_plan (
	case_id       INTEGER PRIMARY KEY,
	policy        TEXT NOT NULL,
	t0            INTEGER NOT NULL,            -- public disclosure, unix millis
	previous_t0   INTEGER NOT NULL DEFAULT 0,  -- T0 replaced by the last re-plan
	notice_at     INTEGER NOT NULL,            -- embargo notice planned (or sent) at
	prerelease_at INTEGER NOT NULL DEFAULT 0,
	retro_from    INTEGER NOT NULL DEFAULT 0,
	retro_to      INTEGER NOT NULL DEFAULT 0,
	forced        TEXT NOT NULL DEFAULT '',    -- reason given with force
	generation    INTEGER NOT NULL,            -- bumped by every (re-)plan
	notified      INTEGER NOT NULL DEFAULT 0,  -- when the embargo notice went out
	published     INTEGER NOT NULL DEFAULT 0,  -- when the announcement went out
	broken        TEXT NOT NULL DEFAULT '',    -- /publish-now reason
	created       INTEGER NOT NULL,
	updated       INTEGER NOT NULL
) STRICT;

-- schedule_job: one timeline step. A job is claimed and executed in the
-- same transaction as the mail it causes, so it runs exactly once.
CREATE TABLE schedule_job (
	id         INTEGER PRIMARY KEY,
	case_id    INTEGER NOT NULL,
	kind       TEXT NOT NULL CHECK (kind IN ('embargo-notice', 'embargo-change', 'prerelease-notice',
	                                         'announcement', 'retrospective')),
	generation INTEGER NOT NULL,               -- plan generation that created it
	due        INTEGER NOT NULL,
	seq        INTEGER NOT NULL,               -- timeline order among jobs due at once
	state      TEXT NOT NULL CHECK (state IN ('pending', 'done', 'skipped', 'cancelled', 'failed')),
	attempts   INTEGER NOT NULL DEFAULT 0,
	detail     TEXT NOT NULL DEFAULT '',       -- JSON parameters
	result     TEXT NOT NULL DEFAULT '',
	created    INTEGER NOT NULL,
	finished   INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE INDEX schedule_job_due ON schedule_job(state, due, seq);
CREATE INDEX schedule_job_case ON schedule_job(case_id);

-- schedule_sla: SLA reminders already sent, so each goes out once.
CREATE TABLE schedule_sla (
	case_id  INTEGER NOT NULL,
	deadline TEXT NOT NULL,                    -- evaluate, fix
	stage    TEXT NOT NULL CHECK (stage IN ('soon', 'missed')),
	due      INTEGER NOT NULL,
	sent     INTEGER NOT NULL,
	PRIMARY KEY (case_id, deadline, stage)
) STRICT;
`

// schemaPlanNoEmbargo (version 9): a disclosure planned without an embargo
// (/disclose ... no-embargo): no notice goes to the distributors.
const schemaPlanNoEmbargo = `
ALTER TABLE schedule_plan ADD COLUMN no_embargo INTEGER NOT NULL DEFAULT 0;
`
