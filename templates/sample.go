package templates

import "time"

// Sample returns fully populated example data: Load renders every template
// with it, the golden tests use it, and `secgate template show` may too.
func Sample() Data {
	t0 := time.Date(2026, 12, 15, 16, 0, 0, 0, time.UTC)
	now := time.Date(2026, 11, 20, 9, 30, 0, 0, time.UTC)
	lead := Person{Name: "Alice Lead", Address: "alice@example.org", Fingerprint: "0123456789ABCDEF0123456789ABCDEF01234567", TZ: "Europe/Berlin"}
	reporter := Person{Name: "Rita Reporter", Address: "rita@example.net"}
	return Data{
		Project: Project{
			Name:           "Example",
			Team:           "Example Product Security Team",
			TeamAddress:    "security@example.org",
			KeyFingerprint: "89ABCDEF0123456789ABCDEF0123456789ABCDEF",
			KeyURL:         "https://example.org/security.asc",
			PolicyURL:      "https://example.org/security-policy",
			AdvisoryURL:    "https://example.org/advisories",
			AnnounceList:   "security-announce@example.org",
			IssueTracker:   "https://example.org/issues",
			AdvisoryPrefix: "EXSA",
			NotePrefix:     "EXSN",
		},
		Case: CaseData{
			Ref:           "SEC-2026-0007",
			Title:         "Path traversal in the upload handler",
			State:         "fix-committed",
			Class:         "A",
			ClassMeaning:  "a vulnerability to be fixed in master and all supported releases",
			Note:          "EXSN-2026-001",
			Policy:        "knative",
			CVSSVector:    "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
			CVSSScore:     9.8,
			Severity:      "CRITICAL",
			CVE:           "CVE-2026-12345",
			Advisory:      "EXSA-2026-001",
			Component:     "example/server",
			Affected:      "< 1.2.3",
			Fixed:         "1.2.3",
			Credit:        "Rita Reporter",
			CreditConsent: true,
			CreditAnswer:  "yes",
			Impact:        "An unauthenticated attacker can write files outside the upload\ndirectory and execute code as the server user.",
			Mitigation:    "Disable uploads (uploads.enabled = false) until you upgrade.",
			Patches:       []string{"https://example.org/patches/0001-fix-upload.patch"},
			References:    []string{"https://example.org/issues/42"},
			Release:       "https://example.org/releases/v1.2.3",
			Reporter:      reporter,
			Lead:          lead,
			Received:      time.Date(2026, 11, 10, 8, 15, 0, 0, time.UTC),
			EvaluateBy:    time.Date(2026, 11, 17, 8, 15, 0, 0, time.UTC),
			FixBy:         time.Date(2026, 12, 8, 8, 15, 0, 0, time.UTC),
			DiscloseAt:    t0,
			Embargoed:     true,
			AdvisoryLink:  "https://example.org/advisories/EXSA-2026-001",
		},
		Now:       now,
		Recipient: Person{Name: "Dana Distributor", Address: "dana@vendor.example"},
		Actor:     lead,
		Message: MessageData{
			From:        "Rita Reporter <rita@example.net>",
			Subject:     "upload handler traversal",
			Date:        time.Date(2026, 11, 10, 8, 14, 0, 0, time.UTC),
			MessageID:   "<report-1@example.net>",
			Text:        "Hello,\n\nPOST /upload with ../ in the name writes anywhere.\n",
			Attachments: []string{"poc.sh"},
			Encrypted:   true,
			Signed:      true,
			SignedBy:    "FEDCBA9876543210FEDCBA9876543210FEDCBA98",
			Token:       "UT-SAMPLE2TOKEN2SAMP",
		},
		Plan: PlanData{
			T0:            t0,
			Previous:      time.Date(2026, 12, 11, 16, 0, 0, 0, time.UTC),
			EmbargoNotice: now,
			PreRelease:    t0.Add(-24 * time.Hour),
			RetroFrom:     t0.Add(24 * time.Hour),
			RetroTo:       t0.Add(72 * time.Hour),
			LeadTZ:        "Europe/Berlin",
			Forced:        "upstream dependency releases the same day",
			Notice:        "25 days",
			Warnings:      []string{"the CVSS score is below 4.0; the policy allows a slower release"},
			Next:          "pre-release notice to the distributors",
			NextAt:        t0.Add(-24 * time.Hour),
		},
		Answer: AnswerData{
			Commands: []string{"/status confirmed", "/cvss CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"},
			Done:     []string{"state: new -> confirmed", "CVSS 9.8 (CRITICAL)"},
			Notes:    []string{"reporter told (reporter-confirmed), encrypted to the reporter's key"},
			Refused:  "/cve: CVE-12 is not a CVE ID",
			Help:     []HelpLine{{Usage: "/status STATE", Text: "set the case state"}, {Usage: "/disclose DATE TIME ZONE", Text: "plan the public disclosure"}},
			Log:      []LogLine{{At: now, Actor: lead.Fingerprint, Action: "status", Detail: "new -> confirmed"}},
			Replies:  []string{"Thank you; we will publish on 15 December and credit you."},
			Draft:    DraftData{Name: "cve-request-private", Subject: "CVE request: path traversal in Example", Body: "Product: Example\nVersions: < 1.2.3\n"},
		},
		Reminder: ReminderData{What: "evaluate the report", Due: time.Date(2026, 11, 17, 8, 15, 0, 0, time.UTC), Overdue: true},
		Skipped:  []SkippedData{{Name: "Old Vendor", Address: "sec@old.example", Reason: "key expired on 2026-12-01"}},
		Keys:     []KeyData{{Name: "Dana Distributor", Address: "dana@vendor.example", Fingerprint: "00112233445566778899AABBCCDDEEFF00112233", Expires: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC), Problem: "expires in 11 days"}},
		WrongKey: WrongKeyData{KeyIDs: []string{"1122334455667788"}},
		Consent:  ConsentData{Code: "K7Q2-M9XD", Key: "5A1C0B3E9F2D47A68C1E0F3B7D9A2C4E6F8B0D13"},
		Ack: AckData{Code: "ACK-K7Q2M3XDABCD", Notice: "embargo notice", Delivered: now.Add(time.Minute),
			Silent:  []string{"sec@old.example: embargo notice, delivered 2026-11-20 09:31 UTC"},
			Verdict: "counted: dana@vendor.example acknowledged the embargo notice, signed by their key on file"},
		Retrospective: RetrospectiveData{
			People: []string{"Alice Lead (fix lead)", "Bob Member", "Rita Reporter (reporter)"},
			Timeline: []TimelineLine{
				{At: time.Date(2026, 11, 10, 8, 15, 0, 0, time.UTC), Who: "secgate", What: "report received, encrypted; fix lead Alice Lead (rota)"},
				{At: time.Date(2026, 11, 11, 9, 0, 0, 0, time.UTC), Who: "Alice Lead", What: "state new -> confirmed"},
				{At: now, Who: "Alice Lead", What: "disclosure planned for 2026-12-15 16:00 UTC"},
				{At: now, Who: "secgate", What: "embargo notice sent to 2 distributors"},
				{At: t0, Who: "secgate", What: "announcement sent to security-announce"},
			},
		},
		Application: ApplicationData{
			Ref: "APP-2026-0003", List: "embargo", Address: "dana@vendor.example",
			Fingerprint: "00112233445566778899AABBCCDDEEFF00112233", UserIDs: []string{"dana@vendor.example"},
			Expires: time.Date(2028, 1, 1, 0, 0, 0, 0, time.UTC), Encrypted: true, Signed: "00112233445566778899AABBCCDDEEFF00112233",
			Text:      "We ship Example in Vendor Linux 12 (about 40 000 installations).\nAdvisories: https://vendor.example/security\n",
			Token:     "UT-SAMPLE3TOKEN3SAMP",
			Criteria:  []string{"Which distribution or product", "User base", "Track record", "Acceptance of the embargo policy", "OpenPGP"},
			Refused:   "the key attached does not carry the address dana@vendor.example",
			MinNotice: "21 days", MaxNotice: "28 days", PreRelease: "1 day",
		},
		Leak:   LeakData{Who: "a blog post by a third party", What: "the patch was published before the disclosure date"},
		Reason: "the issue was discussed on a public forum",
	}
}

// sparseSample has only what every caller always sets, so that Load also
// exercises the "empty" branches of each template.
func sparseSample() Data {
	return Data{
		Project: Project{Name: "Example", TeamAddress: "security@example.org"},
		Case:    CaseData{Ref: "SEC-2026-0001"},
		Now:     time.Date(2026, 11, 20, 9, 30, 0, 0, time.UTC),
	}
}
