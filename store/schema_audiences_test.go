package store

import (
	"context"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
)

// TestMigrateAudiences: a database made before there were several embargo
// lists opens with each plan whose embargo list was told recorded as told
// (list ”, the configured embargo_list), and nothing for a plan whose
// list was not told yet.
func TestMigrateAudiences(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "old.db")
	old, err := openPool("file:" + path + "?_pragma=journal_mode(WAL)")
	if err != nil {
		t.Fatal(err)
	}
	ms := migrations()
	at := slices.Index(ms, schemaAudiences)
	for _, m := range ms[:at] {
		if _, err := old.Exec(m); err != nil {
			t.Fatal(err)
		}
	}
	for id, notified := range map[int]int{1: 1700000000000, 2: 0} {
		if _, err := old.Exec(`INSERT INTO schedule_plan (case_id, policy, t0, notice_at, generation, notified, created, updated)
			VALUES (?, 'knative', 1800000000000, 1, 1, ?, 1, 1)`, id, notified); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := old.Exec(`PRAGMA user_version = ` + strconv.Itoa(at)); err != nil {
		t.Fatal(err)
	}
	old.Close()

	db, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Reader().Query(`SELECT case_id, list, source, notified FROM schedule_audience ORDER BY case_id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var got []string
	for rows.Next() {
		var id, notified int64
		var list, source string
		if err := rows.Scan(&id, &list, &source, &notified); err != nil {
			t.Fatal(err)
		}
		got = append(got, strconv.FormatInt(id, 10)+" "+list+"|"+source+" "+strconv.FormatInt(notified, 10))
	}
	if want := []string{"1 |policy 1700000000000"}; !slices.Equal(got, want) {
		t.Errorf("audiences %q, want %q", got, want)
	}
}
