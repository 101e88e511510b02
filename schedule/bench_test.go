package schedule

import "testing"

// BenchmarkKnativeTimeline plans a three-week embargo and runs its whole
// timeline on the simulated clock (goal: well under a second).
func BenchmarkKnativeTimeline(b *testing.B) {
	for b.Loop() {
		b.StopTimer()
		e := newEnv(b, utc("2026-11-20 09:30"), "knative")
		c := e.newCase(1, "knative", utc("2026-11-16 08:00"))
		b.StartTimer()
		if _, err := e.disclose(c, utc("2026-12-11 16:00"), ""); err != nil {
			b.Fatal(err)
		}
		e.advance(utc("2026-12-20 00:00"))
	}
}
