package store

// schemaHistory (version 21): indexes and counters that keep the
// gateway's costs flat as years of cases, mail and messages pile up
// (secgate bench -history measures them).
//
// inbound_sender_class: a report counts the cases its sender opened in
// the last 24 hours (intake new_cases_per_day) by sender, class and time.
// Without it SQLite read the day's reports of every sender through
// inbound_class_received: after busy days, thousands of rows a report.
//
// outbox_sending and outbox_attempt_sending: the rows and attempts being
// sent, which the outbox takes back when it starts (it reads no other
// row: after years, a million sent rows and their attempts).
//
// outbox_count and inbound_count: how many rows each state (and class)
// holds, kept by triggers in the transaction that changes a row, so that
// the metrics and the health check read a few rows instead of counting
// every row at every scrape.
const schemaHistory = `
CREATE INDEX inbound_sender_class ON inbound (sender, class, received);
CREATE INDEX outbox_sending ON outbox (id) WHERE state = 'sending';
CREATE INDEX outbox_attempt_sending ON outbox_attempt (outbox_id) WHERE outcome = 'sending';

CREATE TABLE outbox_count (
	state TEXT    PRIMARY KEY,              -- outbox.state
	n     INTEGER NOT NULL                  -- rows in that state
) STRICT, WITHOUT ROWID;
INSERT INTO outbox_count (state, n) SELECT state, count(*) FROM outbox GROUP BY state;
CREATE TRIGGER outbox_count_insert AFTER INSERT ON outbox BEGIN
	INSERT INTO outbox_count (state, n) VALUES (NEW.state, 1) ON CONFLICT (state) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER outbox_count_update AFTER UPDATE OF state ON outbox WHEN OLD.state != NEW.state BEGIN
	UPDATE outbox_count SET n = n - 1 WHERE state = OLD.state;
	INSERT INTO outbox_count (state, n) VALUES (NEW.state, 1) ON CONFLICT (state) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER outbox_count_delete AFTER DELETE ON outbox BEGIN
	UPDATE outbox_count SET n = n - 1 WHERE state = OLD.state;
END;

CREATE TABLE inbound_count (
	state TEXT    NOT NULL,                 -- inbound.state
	class TEXT    NOT NULL,                 -- inbound.class
	n     INTEGER NOT NULL,                 -- messages in that state and class
	PRIMARY KEY (state, class)
) STRICT, WITHOUT ROWID;
INSERT INTO inbound_count (state, class, n) SELECT state, class, count(*) FROM inbound GROUP BY state, class;
CREATE TRIGGER inbound_count_insert AFTER INSERT ON inbound BEGIN
	INSERT INTO inbound_count (state, class, n) VALUES (NEW.state, NEW.class, 1) ON CONFLICT (state, class) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER inbound_count_update AFTER UPDATE OF state, class ON inbound
	WHEN OLD.state != NEW.state OR OLD.class != NEW.class BEGIN
	UPDATE inbound_count SET n = n - 1 WHERE state = OLD.state AND class = OLD.class;
	INSERT INTO inbound_count (state, class, n) VALUES (NEW.state, NEW.class, 1) ON CONFLICT (state, class) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER inbound_count_delete AFTER DELETE ON inbound BEGIN
	UPDATE inbound_count SET n = n - 1 WHERE state = OLD.state AND class = OLD.class;
END;
`
