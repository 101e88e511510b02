package store

// schemaAudiences holds embargo audiences and their rules (issue #18):
// the rules of each embargo list, which [[distlist.list]] sets, and the
// lists each case's embargo notices go to.
const schemaAudiences = `
-- dir_list_rules: the rules of an embargo list; a list without a row
-- follows the case's policy alone. Written by the configuration sync.
CREATE TABLE dir_list_rules (
	list           TEXT PRIMARY KEY REFERENCES dir_list(name) ON DELETE CASCADE,
	max_embargo    INTEGER NOT NULL DEFAULT 0, -- longest embargo the list accepts, millis (0: the policy's)
	notice_before  INTEGER NOT NULL DEFAULT 0, -- the list is told at T0 minus this, millis (0: as early as allowed)
	pre_release    INTEGER NOT NULL DEFAULT 1, -- 0: the list gets no pre-release notice
	require_cve    INTEGER NOT NULL DEFAULT 0, -- 1: the list is told only of a case with a CVE ID
	subject_tag    TEXT NOT NULL DEFAULT ''    -- prefixed to the Subject of its notices, e.g. [vs]
) STRICT;

-- schedule_audience: the lists a case's embargo notices go to beyond its
-- policy's (added by /notify LIST), and when each list was told.
CREATE TABLE schedule_audience (
	case_id  INTEGER NOT NULL,
	list     TEXT NOT NULL,             -- '': the configured embargo_list (plans made before this table)
	source   TEXT NOT NULL CHECK (source IN ('policy', 'notify')), -- named by the policy, or added by /notify LIST
	added_by TEXT NOT NULL DEFAULT '',  -- fingerprint of who added it ('' for the policy's)
	added    INTEGER NOT NULL,          -- unix millis
	notified INTEGER NOT NULL DEFAULT 0, -- unix millis of its first embargo notice, 0: not told yet
	PRIMARY KEY (case_id, list)
) STRICT;

-- A plan made before there were several lists told the configured
-- embargo list, which the database does not name: list '' stands for it.
INSERT INTO schedule_audience (case_id, list, source, added, notified)
	SELECT case_id, '', 'policy', notified, notified FROM schedule_plan WHERE notified != 0;
`
