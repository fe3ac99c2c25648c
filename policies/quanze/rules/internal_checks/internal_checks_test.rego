package quanze.rules.internal_checks_test

import rego.v1

import data.quanze.testlib as t

legal_document := {"type": "legal_document", "id": "DOC-1", "properties": object.union(
	t.escalated_case.properties,
	{"document_type": "indictment"},
)}

in_scope := {"within_review_scope": true}

# 二十三(1): with the chief's authorisation a department head reviews a case going to the chief.
test_dept_head_reviews_escalated_case_with_authorization_allowed if {
	d := t.decide(t.dept_head, "opinion.review", t.escalated_case, {})
	d.decision == true
	some r in d.reasons
	r.code == "dept_head_review"
	r.article == "二十三"
	r.item == 1
	"review_must_not_change_opinion" in t.obligation_codes(d)
}

# 二十三(1), A22: a case within the procurator's power list, with no trigger, is not reviewed.
test_dept_head_reviews_case_within_power_list_denied if {
	d := t.decide(t.dept_head, "opinion.review", t.sole_case, {})
	d.decision == false
	t.codes(d) == {"review_outside_escalated_cases"}
}

# 二十三(1), 十三(3): a major duty-crime case is the chief's, so it is reviewed first (八).
test_dept_head_reviews_chief_matter_within_power_list_allowed if {
	major := {"type": "case", "id": "C-5", "properties": object.union(t.sole_case.properties, {"is_major": true, "crime_category": ["duty_crime"]})}
	d := t.decide(t.dept_head, "opinion.review", major, {})
	d.decision == true
}

# 二十三(1): "拟向检察长报告的案件" — a disagreement to be reported brings the case in.
test_dept_head_reviews_case_to_be_reported_allowed if {
	d := t.decide(t.dept_head, "opinion.review", t.sole_case, {"disagreement": true})
	d.decision == true
}

# 二十三(2): a key legal document within the procuratorate's review scope cites item 2.
test_dept_head_reviews_legal_document_in_scope_allowed if {
	d := t.decide(t.dept_head, "opinion.review", legal_document, in_scope)
	d.decision == true
	some r in d.reasons
	r.item == 2
}

# 二十三(2), A23: outside the review scope the procuratorate fixed, no review.
test_dept_head_reviews_legal_document_outside_scope_denied if {
	d := t.decide(t.dept_head, "opinion.review", legal_document, {})
	d.decision == false
	t.codes(d) == {"document_outside_review_scope"}
}

# 二十三(1): without the chief's authorisation there is no review power.
test_dept_head_reviews_without_authorization_denied if {
	head := t.person("dh-A2", "department_head", {"roles": ["department_head", "procurator"]})
	d := t.decide(head, "opinion.review", t.escalated_case, {})
	d.decision == false
	t.codes(d) == {"review_not_authorized"}
}

# 二十三(2): a case-review authorisation does not cover legal documents.
test_dept_head_reviews_document_with_case_authorization_only_denied if {
	head := t.person("dh-A3", "department_head", {"roles": ["department_head", "procurator"], "authorizations": ["review.escalated_cases"]})
	d := t.decide(head, "opinion.review", legal_document, in_scope)
	d.decision == false
	some r in d.reasons
	r.code == "review_not_authorized"
	r.item == 2
}

# 二十三: supervision is over the head's own department.
test_dept_head_reviews_other_department_case_denied if {
	head := t.person("dh-B1", "department_head", {
		"roles": ["department_head", "procurator"],
		"department": "DEPT-CIVIL-1", "authorizations": ["review.escalated_cases"],
	})
	d := t.decide(head, "opinion.review", t.escalated_case, {})
	d.decision == false
	t.codes(d) == {"outside_own_department"}
}

# 四十五: a department head is one "具有检察官身份".
test_dept_head_without_procurator_status_denied if {
	head := t.person("dh-C1", "department_head", {"authorizations": ["review.escalated_cases"]})
	d := t.decide(head, "opinion.review", t.escalated_case, {})
	d.decision == false
	t.codes(d) == {"dept_head_requires_procurator_status"}
}

# A6: a department head who handles the case may not review it.
test_dept_head_reviews_own_case_denied if {
	own := {"type": "case", "id": "C-4004", "properties": object.union(t.escalated_case.properties, {"sole_procurator": "dh-A1"})}
	d := t.decide(t.dept_head, "opinion.review", own, {})
	d.decision == false
	t.codes(d) == {"no_self_review"}
}

# A6: involvement counts even when the case omits its handling mode.
test_dept_head_reviews_own_case_without_handling_mode_denied if {
	own := {"type": "case", "id": "C-4005", "properties": {
		"procuratorate": "PROC-CITY-A", "department": "DEPT-CRIM-1", "lead_procurator": "dh-A1",
	}}
	d := t.decide(t.dept_head, "opinion.review", own, {})
	d.decision == false
	"no_self_review" in t.codes(d)
}

# 二十四: while reviewing, re-examination may be required; the head answers supervisorily
# and the handling procurator judicially for a changed decision (P9, 三十).
test_dept_head_orders_reexamination_in_review_allowed if {
	d := t.decide(t.dept_head, "case.order_reexamination", t.escalated_case, {})
	d.decision == true
	t.articles(d) == {"二十四"}
	d.accountable == {
		{"subject_id": "dh-A1", "capacity": "department_head", "responsibility": "supervisory", "article": "三十"},
		{"subject_id": "p-A1", "capacity": "handling_procurator", "responsibility": "judicial", "article": "三十"},
	}
}

# 二十四 "审核…时": without a review under way (no authorisation), no re-examination.
test_dept_head_orders_reexamination_without_authorization_denied if {
	head := t.person("dh-A2", "department_head", {"roles": ["department_head", "procurator"]})
	d := t.decide(head, "case.order_reexamination", t.escalated_case, {})
	d.decision == false
	t.codes(d) == {"review_not_authorized"}
}

# 二十四, A6: nor on the head's own case.
test_dept_head_requests_materials_on_own_case_denied if {
	own := {"type": "case", "id": "C-4004", "properties": object.union(t.escalated_case.properties, {"sole_procurator": "dh-A1"})}
	d := t.decide(t.dept_head, "case.request_supplementary_materials", own, {})
	d.decision == false
	t.codes(d) == {"no_self_review"}
}

# 二十四: a reviewer may require supplementary materials.
test_dept_head_requests_supplementary_materials_allowed if {
	d := t.decide(t.dept_head, "case.request_supplementary_materials", t.escalated_case, {})
	d.decision == true
	t.codes(d) == {"dept_head_request_materials"}
}

# 二十四: "不得直接改变检察官意见" — the prohibition is the whole reason, no "not granted" noise.
test_dept_head_edits_procurator_opinion_denied if {
	d := t.decide(t.dept_head, "opinion.edit", t.escalated_case, {})
	d.decision == false
	t.codes(d) == {"dept_head_cannot_change_opinion"}
	t.articles(d) == {"二十四"}
}

# 二十四: "不得…要求检察官改变意见".
test_dept_head_demands_opinion_change_denied if {
	d := t.decide(t.dept_head, "opinion.demand_change", t.sole_case, {})
	d.decision == false
	t.codes(d) == {"dept_head_cannot_change_opinion"}
}

# 二十三(3), 七: a convened joint meeting must have full, signed minutes filed with the case.
test_dept_head_convenes_joint_meeting_allowed_with_minutes_duty if {
	d := t.decide(t.dept_head, "joint_meeting.convene", t.sole_case, {})
	d.decision == true
	t.obligation_codes(d) == {"sign_and_file_minutes"}
	some o in d.obligations
	o.article == "七"
}

# 八: a chief matter goes to the chief after review, with the procurator's opinion; the chief answers (二十八).
test_dept_head_forwards_chief_matter_with_procurator_opinion_allowed if {
	d := t.decide(t.dept_head, "case.report_to_chief", t.escalated_case, {"attached": ["procurator_opinion", "review_opinion"]})
	d.decision == true
	t.codes(d) == {"dept_head_forward_to_chief"}
	t.articles(d) == {"八"}
	t.obligation_codes(d) == {"attach_procurator_opinion"}
	{"subject_id": "", "capacity": "chief_procurator", "responsibility": "judicial", "article": "二十八"} in d.accountable
}

# 二十四: on disagreement the head reports the review opinion together with the procurator's.
test_dept_head_reports_disagreement_to_chief_allowed if {
	d := t.decide(t.dept_head, "case.report_to_chief", t.sole_case, {"attached": ["procurator_opinion"], "disagreement": true})
	d.decision == true
	t.codes(d) == {"dept_head_report_disagreement"}
	t.articles(d) == {"二十四"}
}

test_dept_head_reports_to_chief_without_procurator_opinion_denied if {
	d := t.decide(t.dept_head, "case.report_to_chief", t.escalated_case, {"attached": ["review_opinion"]})
	d.decision == false
	t.codes(d) == {"report_must_attach_procurator_opinion"}
}

# 二十四: the procurator's opinion differs from the joint meeting's majority, so the report is mandatory.
test_dept_head_reports_after_majority_disagreement_mandatory if {
	ctx := {
		"attached": ["procurator_opinion"],
		"joint_meeting": {"held": true, "majority_opinion": "prosecute", "procurator_opinion": "not_prosecute"},
	}
	d := t.decide(t.dept_head, "case.report_to_chief", t.sole_case, ctx)
	d.decision == true
	"mandatory_report_after_joint_meeting" in t.obligation_codes(d)
}

# 二十四: the procurator's opinion may be given at the top of the context.
test_dept_head_reports_after_majority_disagreement_with_context_opinion_mandatory if {
	ctx := {
		"attached": ["procurator_opinion"], "procurator_opinion": "not_prosecute",
		"joint_meeting": {"held": true, "majority_opinion": "prosecute"},
	}
	d := t.decide(t.dept_head, "case.report_to_chief", t.sole_case, ctx)
	"mandatory_report_after_joint_meeting" in t.obligation_codes(d)
}

# 二十四: when the procurator's opinion is not given, the duty is assumed, never dropped.
test_dept_head_reports_after_meeting_with_unknown_opinion_mandatory if {
	ctx := {"attached": ["procurator_opinion"], "joint_meeting": {"held": true, "majority_opinion": "prosecute"}}
	d := t.decide(t.dept_head, "case.report_to_chief", t.sole_case, ctx)
	"mandatory_report_after_joint_meeting" in t.obligation_codes(d)
}

# 二十四, A20: when the majority agrees with the procurator the report is optional.
test_dept_head_reports_after_majority_agreement_not_mandatory if {
	ctx := {
		"attached": ["procurator_opinion"],
		"joint_meeting": {"held": true, "majority_opinion": "prosecute", "procurator_opinion": "prosecute"},
	}
	d := t.decide(t.dept_head, "case.report_to_chief", t.escalated_case, ctx)
	d.decision == true
	not "mandatory_report_after_joint_meeting" in t.obligation_codes(d)
}

# 二十四: these are supervisory acts of a department head; a procurator does not hold them here.
test_procurator_orders_reexamination_denied if {
	procurator := t.person("p-A1", "procurator", {})
	d := t.decide(procurator, "case.order_reexamination", t.escalated_case, {})
	d.decision == false
	t.codes(d) == {"action_not_granted"}
}
