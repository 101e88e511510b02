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
	}
}

func (db *DB) migrate(ctx context.Context) error {
	var v int
	if err := db.w.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
		return fmt.Errorf("store: read schema version: %w", err)
	}
	ms := migrations()
	if v > len(ms) {
		return fmt.Errorf("store: database schema version %d is newer than this binary knows (%d)", v, len(ms))
	}
	for i := v; i < len(ms); i++ {
		tx, err := db.w.BeginTx(ctx, nil)
		if err != nil {
			return fmt.Errorf("store: migrate to %d: %w", i+1, err)
		}
		if _, err := tx.ExecContext(ctx, ms[i]); err != nil {
			tx.Rollback()
			return fmt.Errorf("store: migrate to %d: %w", i+1, err)
		}
		if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", i+1)); err != nil {
			tx.Rollback()
			return fmt.Errorf("store: migrate to %d: %w", i+1, err)
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("store: migrate to %d: %w", i+1, err)
		}
	}
	return nil
}
