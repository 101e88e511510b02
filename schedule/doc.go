// Package schedule runs the disclosure timeline of a case.
//
// A [Policy] is the set of numbers a security team works by: how long
// before public disclosure the embargo list must be told (at least, at
// most; in hours or in business days), the 24-hour pre-release notice, the
// evaluation and fix deadlines, the retrospective window, CVSS bands, an
// optional fixed disclosure hour and allowed weekdays. The three process
// documents the product follows are presets ([Preset]: knative, kata,
// kubeedge); every value can be overridden in the [Config].
//
// [Scheduler.Disclose] checks a requested disclosure time (T0) against the
// case's policy and readiness (impact description, affected and fixed
// versions, a valid key for every distributor through T0), then records the
// timeline as durable jobs: the embargo notice, the pre-release notice at
// T0 minus the policy's lead, the public announcement at T0 and the
// retrospective reminder after it. [Scheduler.Run] executes the jobs on an
// injected clock: one loop, a timer set to the next due job, a wake-up when
// jobs are added. Each job is claimed and executed in one transaction with
// the mail it causes, so a crash never loses or repeats a notice; after
// downtime past-due jobs run at once in timeline order, and an embargoed
// notice whose T0 has passed is skipped (never sent after the
// announcement).
//
// At T0 the scheduler also writes the artifacts for publication: the
// advisory (markdown), a CVE JSON 5 record and an OSV record.
package schedule
