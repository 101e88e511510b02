package store

import (
	"context"
	"fmt"
	"strings"
)

// migrations holds the schema, one entry per PRAGMA user_version step.
// Entries are never edited once released; new changes are appended.
// Version 1 is assembled from the per-area schema files (schema_*.go) so that
// each area of the code keeps its tables in one place.
func migrations() []string {
	return []string{
		strings.Join([]string{schemaInbound, schemaCases, schemaDirectory, schemaOutbox, schemaSchedule}, "\n"),
		schemaBlob,
		schemaOutboxClaim,
		schemaOutboxDropDue,
		schemaInboundRaw,
		schemaOutboxEvent,
		schemaKeyReport,
		schemaCaseDetails,
		schemaPlanNoEmbargo,
		schemaSecurity,
		schemaOps,
		schemaOutboxList,
		schemaAuditHead,
		schemaNoteConsent,
		schemaCasePrefix,
		schemaAck,
		schemaApplications,
		schemaAudiences,
		schemaTeamKey,
		schemaApproval,
		schemaHistory,
		schemaArchive,
		schemaEnvelope,
		schemaStream,
		schemaKeyLookup,
		schemaRotaLead,
	}
}

func (db *DB) migrate(ctx context.Context) error {
	ms := migrations()
	for {
		// The version is read inside each writing transaction (BEGIN
		// IMMEDIATE): two processes opening a new database at once take
		// turns, and the second finds the first's steps done.
		done, err := db.migrateStep(ctx, ms)
		if err != nil || done {
			return err
		}
	}
}

// migrateStep applies the next migration in one transaction; done is true
// when none is left.
func (db *DB) migrateStep(ctx context.Context, ms []string) (done bool, err error) {
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return false, fmt.Errorf("store: migrate: %w", err)
	}
	defer tx.Rollback()
	var v int
	if err := tx.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
		return false, fmt.Errorf("store: read schema version: %w", err)
	}
	switch {
	case v > len(ms):
		return false, fmt.Errorf("store: database schema version %d is newer than this binary knows (%d)", v, len(ms))
	case v == len(ms):
		return true, nil
	}
	if _, err := tx.ExecContext(ctx, ms[v]); err != nil {
		return false, fmt.Errorf("store: migrate to %d: %w", v+1, err)
	}
	if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", v+1)); err != nil {
		return false, fmt.Errorf("store: migrate to %d: %w", v+1, err)
	}
	if err := tx.Commit(); err != nil {
		return false, fmt.Errorf("store: migrate to %d: %w", v+1, err)
	}
	return false, nil
}
