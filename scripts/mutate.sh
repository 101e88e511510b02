#!/usr/bin/env bash
# Mutation check: each line of the table below removes one check the
# README's security model promises, and names the test that must catch it.
# The script applies each mutation in turn, runs that test, restores the
# file, and fails if a mutation survives (its test passes). Run it after
# changing a guarantee or its test: `make mutate`.
#
# Table columns, separated by " @@ ": file, the exact text to replace (it
# must occur once), its replacement, the package, the -run pattern.
set -euo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-go}

mutations=$(cat <<'TABLE'
crypto/pgpmsg.go @@ if s == nil || sp == nil || len(sp.IntendedRecipients) == 0 || s.Err != nil { @@ if true { @@ ./crypto @@ ^(TestIntendedRecipient|TestCheckIntended)$
crypto/inline.go @@ if err := checkHashHeader(b.Headers.Values("Hash"), sp); err != nil { @@ if err := checkHashHeader(b.Headers.Values("Hash"), sp); false && err != nil { @@ ./crypto @@ ^TestClearsignHashHeader$
crypto/inline.go @@ if sig.Err == nil && strings.EqualFold(e.params["format"], "flowed") { @@ if false { @@ ./crypto @@ ^TestClearsignedFlowed$
crypto/open.go @@ if o.decrypted && o.nested(e, true) { @@ if false { @@ ./crypto @@ ^TestNested$
crypto/pgpmsg.go @@ if res.spooled == nil { @@ if false { @@ ./crypto @@ ^TestOpenFromSpooled$
crypto/openspoolmime.go @@ nested := perr == nil && inner.mtype == "multipart/encrypted" @@ nested := false @@ ./crypto @@ ^TestOpenFromSpooled$
crypto/spoolread.go @@ if err != nil && err != io.EOF { @@ if false { @@ ./crypto @@ ^TestSpoolReadBackFails$
crypto/open.go @@ if err := res.spooled.reads.err; err != nil { @@ if err := res.spooled.reads.err; false && err != nil { @@ ./crypto @@ ^TestSpoolReadBackFails$
crypto/textspool.go @@ if reads.err != nil { @@ if false { @@ ./crypto @@ ^TestSpoolReadBackFails$
crypto/signstream.go @@ if bytes.Contains(p, c.boundary) || bytes.Contains(edge, c.boundary) { @@ if false { @@ ./crypto @@ ^(TestSignStreamRefused|TestBodyCheckJoins)$
crypto/signstream.go @@ if b >= 0x80 || b == '\n' && c.prev != '\r' || c.prev == '\r' && b != '\n' { @@ if false { @@ ./crypto @@ ^TestSignStreamRefused$
cases/storedattachment.go @@ if err == nil && n != a.Stored.Size() { @@ if false { @@ ./cases @@ ^TestStoredAttachment$
intake/processor.go @@ if err := m.dropParts(ctx, tx); err != nil { @@ if err := error(nil); err != nil { @@ ./intake @@ ^TestRealStackBigReportAttachment$
cases/command.go @@ if need && signed == "" { @@ if false { @@ ./cases @@ ^TestThreadingAndCaseLine$
cases/command.go @@ if !s.meantForUs(sig) { @@ if false { @@ ./cases @@ ^TestNotMeantForUs$
cases/command.go @@ if other, how := s.unsignedCase(ctx); other != 0 && other != c.ID { @@ if other, how := s.unsignedCase(ctx); false && other != c.ID { @@ ./cases @@ ^TestThreadingAndCaseLine$
cases/parse.go @@ if untrusted != "" || isQuoted(line) { @@ if isQuoted(line) { @@ ./cases @@ ^TestParseSkipsUntrustedText$
cases/parse.go @@ problems = append(problems, contradictions(out.Commands)...) @@ _ = contradictions @@ ./cases @@ ^TestContradictions$
cases/command.go @@ if store.IsUnique(err) { @@ if false { @@ ./cases @@ ^TestRefuseReplay$
cases/audit.go @@ if e.PrevHash != prev { @@ if false && e.PrevHash != prev { @@ ./cases @@ ^TestAuditTampering$
cases/reporterkey.go @@ return slices.ContainsFunc(k.Emails(), func(e string) bool { return distlist.SameAddress(e, addr) }) @@ return true || slices.ContainsFunc(k.Emails(), func(e string) bool { return distlist.SameAddress(e, addr) }) @@ ./cases @@ ^TestOpenCaseKeyOfAnother$
intake/processor.go @@ ids := m.identities() @@ ids := [][]byte(nil) @@ ./intake @@ ^TestClassifyGolden$
intake/processor.go @@ if member, ok := m.signedByMember(); ok { @@ if member, ok := m.fromMember(); ok { @@ ./intake @@ ^TestHostileCorpus$
cases/auditinsert.go @@ if !events.Valid { @@ if true || !events.Valid { @@ ./cases @@ ^TestAuditHeadAtEveryEvent$
intake/outcome.go @@ if n == 0 { @@ if n < 0 { @@ ./intake @@ ^TestHandledMeanwhile$
intake/processor.go @@ if err = body(m.tx); errors.Is(err, errAlreadyDone) { @@ if err = body(m.tx); false && errors.Is(err, errAlreadyDone) { @@ ./intake @@ ^TestHandledMeanwhile$
intake/handover.go @@ if m.held || m.spool != nil || m.raw == nil || len(m.raw) > handOverMax { @@ if m.raw == nil { @@ ./intake @@ ^TestHandOverIsStoredCopy$
intake/inbound.go @@ if inserted[i] { @@ if true { @@ ./intake @@ ^TestHandOverIsStoredCopy$
distlist/encrypt.go @@ _, clear := clearKinds[kind] @@ clear := true @@ ./distlist @@ ^TestGuardKnowsWhatMustBeEncrypted$
distlist/deliver.go @@ if !deadlineKinds[j.kind] || j.validThrough.IsZero() || now.Before(j.validThrough) { @@ if true { @@ ./distlist @@ ^TestNoticeNeverAfterT0$
templates/templates.go @@ body = Visible(strings.TrimRight(strings.TrimLeft(body, "\n"), " \t\n")) + "\n" @@ body = strings.TrimRight(strings.TrimLeft(body, "\n"), " \t\n") + "\n" @@ ./templates @@ ^TestRenderMakesHiddenVisible$
schedule/audience.go @@ if at := a.earliest(p.T0); now.Before(at) { @@ if false { @@ ./schedule @@ ^TestAudienceGuardAtRunTime$
schedule/audience.go @@ if r.MaxEmbargo > 0 && (p.MaxNotice == 0 || r.MaxEmbargo < p.MaxNotice) { @@ if false { @@ ./schedule @@ ^TestAudiencesReplanAndCancel$
schedule/notify.go @@ if at := a.earliest(p.T0); now.Before(at) { @@ if false { @@ ./schedule @@ ^TestNotifyListMidEmbargo$
schedule/audience.go @@ if a.Rules.RequireCVE && !pol.RequireCVE && c.CVE == "" { @@ if false { @@ ./schedule @@ ^TestAudienceRequireCVE$
schedule/audience.go @@ if !a.Notified.IsZero() { @@ if true { @@ ./schedule @@ ^TestAudienceWithdrawn$
distlist/outbox.go @@ if why, ok := suspended[addr]; ok { @@ if why, ok := suspended[addr]; false && ok { @@ ./distlist @@ ^TestSuspend$
distlist/suspend.go @@ if !j.suspended || !isNotice(j.kind, j.list) { @@ if true { @@ ./distlist @@ ^TestSuspend$
cases/untrusted.go @@ UNION ALL SELECT 1 FROM gateway_untrusted_line WHERE line_hash = ?2 LIMIT 1 @@ LIMIT 1 @@ ./cases @@ ^TestApplicationDecisions$
cases/untrusted.go @@ UNION ALL SELECT 1 FROM gateway_untrusted_line WHERE line_hash = ?1 LIMIT 1 @@ LIMIT 1 @@ ./cases @@ ^TestApplicationDecisions$
cases/application.go @@ if !usable { @@ if false { @@ ./cases @@ ^TestApproveExpiredKey$
cases/application.go @@ if a.SecretKey { @@ if false { @@ ./intake @@ ^TestRealStackApplicationRefused$
intake/apply.go @@ } else if n >= m.p.o.Config.ApplicationsPerDay { @@ } else if false { @@ ./intake @@ ^TestRealStackApplicationFlood$
web/access.go @@ cfg.ClientCAs, cfg.ClientAuth = pool, tls.RequireAndVerifyClientCert @@ cfg.ClientCAs, cfg.ClientAuth = pool, tls.RequireAnyClientCert @@ ./web @@ ^TestClientCertificates$
web/access.go @@ case a.ClientCA == "" && !distlist.IsLoopback(host): @@ case false: @@ ./web @@ ^TestAccessCheck$
web/handler.go @@ if r.TLS == nil && !loopbackHost(r.Host) { @@ if false { @@ ./web @@ ^TestDNSRebinding$
web/addresses.go @@ case a.known[l]: @@ case true: @@ ./web @@ ^TestNothingSealedShown$
cases/approval.go @@ case strings.EqualFold(author, s.member.Fingerprint): @@ case false: @@ ./cases @@ ^TestTwoPersonRule$
cases/approval.go @@ if s.w.cfg.Approvals < 2 || why == "" || s.approval != "" { @@ if true { @@ ./cases @@ ^TestTwoPersonRule$
cases/approval.go @@ if !slices.ContainsFunc(s.w.cfg.BreakGlass, func(a string) bool { return strings.EqualFold(a, s.member.Address) }) { @@ if false && !slices.ContainsFunc(s.w.cfg.BreakGlass, func(a string) bool { return strings.EqualFold(a, s.member.Address) }) { @@ ./cases @@ ^TestBreakGlass$
cases/untrusted.go @@ UNION ALL SELECT 1 FROM archived_untrusted_line WHERE line_hash = ?1 @@ UNION ALL SELECT 1 FROM archived_untrusted_line WHERE 0 @@ ./cases @@ ^TestArchiveMovesEndedCase$
cases/archive.go @@ if again != digest { @@ if again != digest && false { @@ ./cases @@ ^TestArchiveCaseChangedWhileCopied$
cases/archive.go @@ if n > 0 { @@ if false { @@ ./cases @@ ^TestArchiveHolds$
cases/open.go @@ VALUES (`+nextCaseID+`, @@ VALUES (NULL, @@ ./cases @@ ^TestArchiveResumesAfterCrash$
cmd/secgate/archivecmd.go @@ return fmt.Errorf("%s audit log does not verify, nothing archived (see secgate audit verify): %w", whose, err) @@ return nil @@ ./cmd/secgate @@ ^TestArchiveRefusesBrokenLog$
TABLE
)

survived=0
n=0
while IFS= read -r line; do
	[ -z "$line" ] && continue
	file=$(awk -F ' @@ ' '{print $1}' <<<"$line")
	from=$(awk -F ' @@ ' '{print $2}' <<<"$line")
	to=$(awk -F ' @@ ' '{print $3}' <<<"$line")
	pkg=$(awk -F ' @@ ' '{print $4}' <<<"$line")
	run=$(awk -F ' @@ ' '{print $5}' <<<"$line")
	n=$((n + 1))
	count=$(FROM="$from" perl -0ne '$c = () = /\Q$ENV{FROM}\E/g; print $c' "$file")
	if [ "$count" != 1 ]; then
		echo "mutate: $file: the text to replace occurs $count times: $from" >&2
		exit 2
	fi
	cp "$file" "$file.orig"
	trap 'mv -f "$file.orig" "$file"' EXIT
	FROM="$from" TO="$to" perl -0pi -e 's/\Q$ENV{FROM}\E/$ENV{TO}/' "$file"
	# A mutation that does not compile proves nothing.
	if ! $GO test -count=1 -run '^$' "$pkg" >/dev/null 2>&1; then
		echo "BROKEN    $file: $from  (the mutated package does not compile)"
		survived=$((survived + 1))
	elif $GO test -count=1 -run "$run" "$pkg" >/dev/null 2>&1; then
		echo "SURVIVED  $file: $from  ($pkg $run passes)"
		survived=$((survived + 1))
	else
		echo "caught    $file: $from"
	fi
	mv -f "$file.orig" "$file"
	trap - EXIT
done <<<"$mutations"
echo "$n mutations, $survived survived"
[ "$survived" = 0 ]
