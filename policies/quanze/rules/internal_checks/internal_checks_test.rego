package quanze.rules.internal_checks_test

import rego.v1

import data.quanze.testlib as t

legal_document := {"type": "case", "id": "C-1001", "properties": object.union(t.sole_case.properties, {"review_object": "legal_document"})}

# 二十三(1): with the chief's authorisation a department head reviews a case of the department.
test_dept_head_reviews_case_with_authorization_allowed if {
	d := t.decide(t.dept_head, "opinion.review", t.sole_case, {})
	d.decision == true
	some r in d.reasons
	r.code == "dept_head_review"
	r.article == "二十三"
	r.item == 1
	"review_must_not_change_opinion" in t.obligation_codes(d)
}

# 二十三(2): reviewing a key legal document cites item 2.
test_dept_head_reviews_legal_document_with_authorization_allowed if {
	d := t.decide(t.dept_head, "opinion.review", legal_document, {})
	d.decision == true
	some r in d.reasons
	r.item == 2
}

# 二十三(1): without the chief's authorisation there is no review power.
test_dept_head_reviews_without_authorization_denied if {
	head := t.person("dh-A2", "department_head", {"roles": ["department_head", "procurator"]})
	d := t.decide(head, "opinion.review", t.sole_case, {})
	d.decision == false
	t.codes(d) == {"review_not_authorized"}
}

# 二十三(2): a case-review authorisation does not cover legal documents.
test_dept_head_reviews_document_with_case_authorization_only_denied if {
	head := t.person("dh-A3", "department_head", {"authorizations": ["review.escalated_cases"]})
	d := t.decide(head, "opinion.review", legal_document, {})
	d.decision == false
	some r in d.reasons
	r.code == "review_not_authorized"
	r.item == 2
}

# 二十三: supervision is over the head's own department.
test_dept_head_reviews_other_department_case_denied if {
	head := t.person("dh-B1", "department_head", {"department": "DEPT-CIVIL-1", "authorizations": ["review.escalated_cases"]})
	d := t.decide(head, "opinion.review", t.sole_case, {})
	d.decision == false
	t.codes(d) == {"outside_own_department"}
}

# A6: a department head who handles the case may not review it.
test_dept_head_reviews_own_case_denied if {
	own := {"type": "case", "id": "C-4004", "properties": object.union(t.sole_case.properties, {"sole_procurator": "dh-A1"})}
	d := t.decide(t.dept_head, "opinion.review", own, {})
	d.decision == false
	t.codes(d) == {"no_self_review"}
}

# 二十四: a reviewer may require re-examination; the head answers for supervision (三十).
test_dept_head_orders_reexamination_allowed if {
	d := t.decide(t.dept_head, "case.order_reexamination", t.sole_case, {})
	d.decision == true
	t.articles(d) == {"二十四"}
	d.accountable == {{"subject_id": "dh-A1", "capacity": "department_head", "responsibility": "supervisory", "article": "三十"}}
}

# 二十四: a reviewer may require supplementary materials.
test_dept_head_requests_supplementary_materials_allowed if {
	d := t.decide(t.dept_head, "case.request_supplementary_materials", t.sole_case, {})
	d.decision == true
	t.codes(d) == {"dept_head_request_materials"}
}

# 二十四: "不得直接改变检察官意见" — the prohibition is the whole reason, no "not granted" noise.
test_dept_head_edits_procurator_opinion_denied if {
	d := t.decide(t.dept_head, "opinion.edit", t.sole_case, {})
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

# 二十四: the report to the chief carries the procurator's own opinion.
test_dept_head_reports_to_chief_with_procurator_opinion_allowed if {
	d := t.decide(t.dept_head, "case.report_to_chief", t.sole_case, {"attached": ["procurator_opinion", "review_opinion"]})
	d.decision == true
	t.obligation_codes(d) == {"attach_procurator_opinion"}
}

test_dept_head_reports_to_chief_without_procurator_opinion_denied if {
	d := t.decide(t.dept_head, "case.report_to_chief", t.sole_case, {"attached": ["review_opinion"]})
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

# 二十四, A20: when the majority agrees with the procurator the report is optional.
test_dept_head_reports_after_majority_agreement_not_mandatory if {
	ctx := {
		"attached": ["procurator_opinion"],
		"joint_meeting": {"held": true, "majority_opinion": "prosecute", "procurator_opinion": "prosecute"},
	}
	d := t.decide(t.dept_head, "case.report_to_chief", t.sole_case, ctx)
	d.decision == true
	not "mandatory_report_after_joint_meeting" in t.obligation_codes(d)
}

# 二十四: these are supervisory acts of a department head; a procurator does not hold them here.
test_procurator_orders_reexamination_denied if {
	procurator := t.person("p-A1", "procurator", {})
	d := t.decide(procurator, "case.order_reexamination", t.sole_case, {})
	d.decision == false
	t.codes(d) == {"action_not_granted"}
}
