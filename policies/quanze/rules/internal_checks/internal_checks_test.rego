package quanze.rules.internal_checks_test

import rego.v1

import data.quanze.rules.internal_checks
import data.quanze.testlib as t

legal_document := {"type": "legal_document", "id": "DOC-1", "properties": object.union(
	t.escalated_case.properties,
	{"document_type": "indictment"},
)}

in_scope := {"within_review_scope": true}

# 二十三(1): with the chief's authorisation a department head reviews a case going to the chief. (R08-2, R23-1)
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
	major := {
		"type": "case",
		"id": "C-5",
		"properties": object.union(t.sole_case.properties, {"is_major": true, "crime_category": ["duty_crime"]}),
	}
	d := t.decide(t.dept_head, "opinion.review", major, {})
	d.decision == true
}

# 二十三(1): "拟向检察长报告的案件" — a case the joint meeting's majority disagreed on must be
# reported to the chief (二十四), which brings it in.
test_dept_head_reviews_case_to_be_reported_allowed if {
	meeting := {"joint_meeting": {"held": true, "majority_opinion": "不起诉", "procurator_opinion": "起诉"}}
	d := t.decide(t.dept_head, "opinion.review", t.sole_case, meeting)
	d.decision == true
}

# 二十三(1), 二十四, A22: the head's own disagreement arises in a review ("审核案件…时"); on a case
# within the procurator's power list it opens neither a review nor a re-examination.
test_dept_head_disagreeing_on_case_within_power_list_denied if {
	every act in ["opinion.review", "case.order_reexamination"] {
		d := t.decide(t.dept_head, act, t.sole_case, {"disagreement": true})
		d.decision == false
		t.codes(d) == {"review_outside_escalated_cases"}
	}
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
	head := t.person(
		"dh-A3",
		"department_head",
		{"roles": ["department_head", "procurator"], "authorizations": ["review.escalated_cases"]},
	)
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

# 四十五: a department head is one "具有检察官身份": dh-C1 heads a department in the directory
# but is not in the quota, so it reviews nothing, and an authorisation the registry shows for it
# does not count either (二十三 authorises heads as 四十五 defines them).
test_dept_head_without_procurator_status_denied if {
	head := t.person("dh-C1", "department_head", {})
	authorized := {
		"dh-C1": [{
			"document": "A检授权〔2024〕9号",
			"kind": "authorization",
			"grantor": "chief-A",
			"procuratorate": "PROC-CITY-A",
			"scope": ["review.escalated_cases"],
			"valid_from": "2024-07-04",
		}],
	}
	d := t.decide(head, "opinion.review", t.escalated_case, {}) with data.quanze.directory.grants as authorized
	d.decision == false
	t.codes(d) == {"dept_head_requires_procurator_status", "review_not_authorized"}
}

# A6: a department head who handles the case may not review it.
test_dept_head_reviews_own_case_denied if {
	own := {
		"type": "case",
		"id": "C-4004",
		"properties": object.union(t.escalated_case.properties, {"sole_procurator": "dh-A1"}),
	}
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
# and the handling procurator judicially for a changed decision (P9, 三十). (R24-1, R25-1)
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
	own := {
		"type": "case",
		"id": "C-4004",
		"properties": object.union(t.escalated_case.properties, {"sole_procurator": "dh-A1"}),
	}
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

# 二十四: "不得直接改变检察官意见" — beside the head's own limit, the answer cites whose the
# opinion is: its author's (六, A24). (R24-2)
test_dept_head_edits_procurator_opinion_denied if {
	d := t.decide(t.dept_head, "opinion.edit", t.escalated_case, {})
	d.decision == false
	t.codes(d) == {"dept_head_cannot_change_opinion", "action_not_granted"}
	t.articles(d) == {"二十四", "六"}
}

# A24, 二十三 "除作为检察官承办案件外": a head who handles the case as its sole procurator is the
# opinion's author and may change it.
test_dept_head_edits_own_opinion_allowed if {
	own := {
		"type": "case",
		"id": "C-4004",
		"properties": object.union(t.escalated_case.properties, {"sole_procurator": "dh-A1"}),
	}
	d := t.decide(t.dept_head, "opinion.edit", own, {})
	d.decision == true
	t.codes(d) == {"author_edits_opinion"}
}

# 二十四: "不得…要求检察官改变意见".
test_dept_head_demands_opinion_change_denied if {
	d := t.decide(t.dept_head, "opinion.demand_change", t.sole_case, {})
	d.decision == false
	t.codes(d) == {"dept_head_cannot_change_opinion"}
}

# 二十三(3), 七: a convened joint meeting must have full, signed minutes filed with the case. (R07-2, R23-3)
test_dept_head_convenes_joint_meeting_allowed_with_minutes_duty if {
	d := t.decide(t.dept_head, "joint_meeting.convene", t.sole_case, {})
	d.decision == true
	t.obligation_codes(d) == {"sign_and_file_minutes"}
	some o in d.obligations
	o.article == "七"
}

# 八: a chief matter goes to the chief after review, with the procurator's opinion; the chief answers (二十八).
test_dept_head_forwards_chief_matter_with_procurator_opinion_allowed if {
	d := t.decide(
		t.dept_head,
		"case.report_to_chief",
		t.escalated_case,
		{"attached": ["procurator_opinion", "review_opinion"]},
	)
	d.decision == true
	t.codes(d) == {"dept_head_forward_to_chief"}
	t.articles(d) == {"八"}
	t.obligation_codes(d) == {"attach_procurator_opinion"}
	{"subject_id": "", "capacity": "chief_procurator", "responsibility": "judicial", "article": "二十八"} in d.accountable
}

# 二十四: on disagreement the head reports the review opinion together with the procurator's. (R24-3)
test_dept_head_reports_disagreement_to_chief_allowed if {
	d := t.decide(
		t.dept_head,
		"case.report_to_chief",
		t.sole_case,
		{"attached": ["procurator_opinion"], "disagreement": true},
	)
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

# ================================================================ 二十一: higher over lower procuratorates

at(procuratorate, id, role, extra) := t.person(id, role, object.union({"procuratorate": procuratorate}, extra))

provincial_chief := at(
	"PROC-PROV-A",
	"chief-P",
	"chief_procurator",
	{"roles": ["chief_procurator", "procurator", "committee_member"]},
)

provincial_procurator := at("PROC-PROV-A", "p-P1", "procurator", {})

county_procurator := at("PROC-COUNTY-A1", "p-K1", "procurator", {})

# The city procuratorate PROC-CITY-A holds sole_case (p-A1); the county PROC-COUNTY-A1 is below it.
county_case := {
	"type": "case",
	"id": "C-7001",
	"properties": object.union(t.sole_case.properties, {"procuratorate": "PROC-COUNTY-A1", "sole_procurator": "p-K1"}),
}

by_chief := {"decided_by": "chief", "issued_in_name_of": "procuratorate"}

by_committee := {"decided_by": "committee", "issued_in_name_of": "procuratorate"}

# R21-1 (二十一): the provincial chief decides, in the procuratorate's name, to revoke a city
# procuratorate's decision and answers for the changed part (三十二, P14); the city's p-A1
# answers only where the request says the facts reported were concealed, distorted or left out
# (P15).
test_provincial_chief_revokes_city_decision_allowed if {
	d := t.decide(provincial_chief, "decision.revoke_lower", t.sole_case, by_chief)
	d.decision == true
	t.codes(d) == {"higher_procuratorate_directive"}
	t.articles(d) == {"二十一"}
	d.accountable == {{
		"subject_id": "chief-P",
		"capacity": "chief_procurator",
		"responsibility": "judicial",
		"article": "三十二",
	}}
	distorted := t.decide(
		provincial_chief,
		"decision.revoke_lower",
		t.sole_case,
		object.union(by_chief, {"reporting_fault": "distorted_facts"}),
	)
	distorted.accountable == {
		{"subject_id": "chief-P", "capacity": "chief_procurator", "responsibility": "judicial", "article": "三十二"},
		{"subject_id": "p-A1", "capacity": "handling_procurator", "responsibility": "judicial", "article": "三十二"},
	}
}

# 二十一 "应当由检察长或者检察委员会决定": the decider named must be the issuing procuratorate's
# chief (or committee) as the directory shows; a procurator naming another as chief is refused.
test_directive_decided_by_someone_other_than_the_chief_denied if {
	ctx := object.union(by_chief, {"decider": "p-P1"})
	d := t.decide(provincial_procurator, "decision.revoke_lower", t.sole_case, ctx)
	d.decision == false
	t.codes(d) == {"directive_decider_not_verified"}
	some r in d.reasons
	contains(r.message_en, "the chief of PROC-PROV-A is chief-P; the request names p-P1")
	unnamed := t.decide(provincial_procurator, "decision.revoke_lower", t.sole_case, by_chief)
	t.codes(unnamed) == {"directive_decider_not_verified"}
	named := t.decide(
		provincial_procurator,
		"decision.revoke_lower",
		t.sole_case,
		object.union(by_chief, {"decider": "chief-P"}),
	)
	named.decision == true
	{
		"subject_id": "chief-P",
		"capacity": "chief_procurator",
		"responsibility": "judicial",
		"article": "三十二",
	} in named.accountable
}

# R21-1, A29: any ancestor, the SPP included; here the SPP's committee decided, carried by a procurator.
test_spp_committee_orders_county_correction_allowed if {
	spp_procurator := at("SPP", "p-S1", "procurator", {})
	d := t.decide(
		spp_procurator,
		"directive.order_correction",
		county_case,
		object.union(by_committee, {"decider": "ctte-SPP"}),
	)
	d.decision == true
	{"subject_id": "", "capacity": "committee_member", "responsibility": "judicial", "article": "三十二"} in d.accountable
}

# R21-1: a city procuratorate modifies its county's decision on its chief's decision.
test_city_procurator_modifies_county_decision_on_chief_decision_allowed if {
	city_procurator := at("PROC-CITY-A", "p-X9", "procurator", {})
	d := t.decide(city_procurator, "decision.modify_lower", county_case, object.union(by_chief, {"decider": "chief-A"}))
	d.decision == true
	{
		"subject_id": "chief-A",
		"capacity": "chief_procurator",
		"responsibility": "judicial",
		"article": "三十二",
	} in d.accountable
}

# R21-2: staff of the higher procuratorate acting alone.
test_higher_staff_acting_alone_directive_denied if {
	ctx := {"decided_by": "department_head", "issued_in_name_of": "procuratorate"}
	d := t.decide(provincial_procurator, "decision.revoke_lower", t.sole_case, ctx)
	d.decision == false
	t.codes(d) == {"directive_not_decided_by_chief_or_committee"}
}

# R21-2: "以人民检察院的名义作出" — not in a department's or a person's name.
test_directive_in_department_name_denied if {
	ctx := {"decided_by": "chief", "issued_in_name_of": "department"}
	d := t.decide(provincial_chief, "directive.order_correction", t.sole_case, ctx)
	d.decision == false
	t.codes(d) == {"directive_not_in_procuratorate_name"}
}

# R21-2: neither who decided nor in whose name is stated.
test_directive_without_decision_record_denied if {
	d := t.decide(provincial_chief, "decision.modify_lower", t.sole_case, {})
	d.decision == false
	t.codes(d) == {"directive_not_decided_by_chief_or_committee", "directive_not_in_procuratorate_name"}
}

# R21-3: a county procuratorate cannot revoke its city procuratorate's decision.
test_lower_procuratorate_revokes_upward_denied if {
	d := t.decide(county_procurator, "decision.revoke_lower", t.sole_case, by_chief)
	d.decision == false
	t.codes(d) == {"directive_to_higher_procuratorate", "directive_decider_not_verified"}
}

# A29: a sibling city procuratorate is not above PROC-CITY-A.
test_sibling_procuratorate_directive_denied if {
	sibling_chief := at("PROC-CITY-B", "chief-B", "chief_procurator", {})
	d := t.decide(sibling_chief, "directive.order_correction", t.sole_case, by_chief)
	d.decision == false
	t.codes(d) == {"directive_outside_hierarchy_chain"}
}

# A29: another province's procuratorate is outside the chain, however high.
test_other_province_directive_denied if {
	other_chief := at("PROC-PROV-B", "chief-PB", "chief_procurator", {"roles": ["chief_procurator", "procurator"]})
	d := t.decide(other_chief, "decision.revoke_lower", county_case, by_chief)
	t.codes(d) == {"directive_outside_hierarchy_chain"}
}

# 二十一 is about lower procuratorates; within one procuratorate 二十二 governs.
test_directive_within_own_procuratorate_denied if {
	own_chief := t.person("chief-A", "chief_procurator", {})
	d := t.decide(own_chief, "decision.revoke_lower", t.sole_case, by_chief)
	d.decision == false
	t.codes(d) == {"directive_within_own_procuratorate"}
}

# A procuratorate the hierarchy data does not know is outside every chain (fails closed).
test_directive_to_unknown_procuratorate_denied if {
	unknown := {"type": "case", "id": "C-9", "properties": {"procuratorate": "PROC-UNKNOWN"}}
	d := t.decide(provincial_chief, "decision.revoke_lower", unknown, by_chief)
	t.codes(d) == {"directive_outside_hierarchy_chain"}
}

# The context's target must be the procuratorate holding the case.
test_directive_target_other_than_case_procuratorate_denied if {
	ctx := object.union(by_chief, {"target_procuratorate": "PROC-CITY-B"})
	d := t.decide(provincial_chief, "directive.order_correction", t.sole_case, ctx)
	t.codes(d) == {"directive_target_not_case_procuratorate"}
}

# A resource that names no procuratorate takes the target from the context.
test_directive_target_from_context_allowed if {
	decision_record := {"type": "legal_document", "id": "DEC-1", "properties": {}}
	ctx := object.union(by_chief, {"target_procuratorate": "PROC-COUNTY-B1"})
	d := t.decide(provincial_chief, "decision.modify_lower", decision_record, ctx)
	d.decision == true
}

# 二十一: no target at all is outside every chain.
test_directive_without_target_denied if {
	decision_record := {"type": "legal_document", "id": "DEC-1", "properties": {}}
	d := t.decide(provincial_chief, "decision.modify_lower", decision_record, by_chief)
	t.codes(d) == {"directive_outside_hierarchy_chain"}
}

# 二十一: auxiliary staff do not issue directives.
test_assistant_directive_not_granted if {
	assistant := at("PROC-PROV-A", "asst-P1", "procurator_assistant", {})
	d := t.decide(assistant, "directive.order_correction", t.sole_case, by_chief)
	t.codes(d) == {"action_not_granted", "outside_role_duties"}
}

# A29: the walk finds every level above a county, up to the SPP.
test_ancestors_of_county_reach_spp if {
	internal_checks.ancestors("PROC-COUNTY-A1") == {"PROC-CITY-A", "PROC-PROV-A", "SPP"}
	internal_checks.ancestors("SPP") == set()
}

# The example directory (and any replacement, checked when it loads) is acyclic and within the
# six-step walk: every chain ends at the root.
test_hierarchy_data_acyclic_within_walk_bound if {
	procuratorates := data.quanze.directory.procuratorates
	every node, _ in procuratorates {
		up := internal_checks.ancestors(node)
		not node in up
		some root in up | {node}
		procuratorates[root].parent == null
	}
}

# A cycle slipped into the data fails closed.
test_directive_in_cyclic_hierarchy_denied if {
	cyclic := object.union(data.quanze.directory.procuratorates, {
		"PROC-PROV-A": object.union(data.quanze.directory.procuratorates["PROC-PROV-A"], {"parent": "PROC-CITY-A"}),
	})
	d := t.decide(
		provincial_chief,
		"decision.revoke_lower",
		t.sole_case,
		by_chief,
	) with data.quanze.directory.procuratorates as cyclic
	d.decision == false
	"directive_to_higher_procuratorate" in t.codes(d)
}

# Without parents in the data no procuratorate is above another.
test_directive_without_hierarchy_data_denied if {
	flat := {p: object.union(entry, {"parent": null}) | some p, entry in data.quanze.directory.procuratorates}
	d := t.decide(
		provincial_chief,
		"decision.revoke_lower",
		t.sole_case,
		by_chief,
	) with data.quanze.directory.procuratorates as flat
	t.codes(d) == {"directive_outside_hierarchy_chain"}
}

# ================================================================ 二十二: the chief

chief := t.person("chief-A", "chief_procurator", {"roles": ["chief_procurator", "procurator", "committee_member"]})

supervisory(d) := {a.responsibility | some a in d.accountable}

# R22-1: the chief reviews a matter the procurator decided within power; 二十五 for supervision.
test_chief_reviews_procurator_decision_allowed if {
	d := t.decide(chief, "opinion.review", t.sole_case, {})
	d.decision == true
	t.codes(d) == {"chief_reviews_procurator_decision"}
	t.articles(d) == {"二十二"}
	d.accountable == {{
		"subject_id": "chief-A",
		"capacity": "chief_procurator",
		"responsibility": "supervisory",
		"article": "二十五",
	}}
}

# 八: a matter that goes to the chief anyway is reviewed for decision.
test_chief_reviews_reported_matter_allowed if {
	d := t.decide(chief, "opinion.review", t.escalated_case, {})
	d.decision == true
	t.codes(d) == {"chief_reviews_reported_matter"}
	t.articles(d) == {"八"}
}

# R22-2, P9 (三十): the chief supervisorily, the handling procurators judicially.
test_chief_orders_reexamination_allowed if {
	d := t.decide(chief, "case.order_reexamination", t.team_case, {})
	d.decision == true
	t.codes(d) == {"chief_orders_reexamination"}
	d.accountable == {
		{"subject_id": "chief-A", "capacity": "chief_procurator", "responsibility": "supervisory", "article": "三十"},
		{"subject_id": "p-L1", "capacity": "handling_procurator", "responsibility": "judicial", "article": "三十"},
		{"subject_id": "p-T2", "capacity": "handling_procurator", "responsibility": "judicial", "article": "三十"},
	}
}

# R22-2: on review of a matter within power the chief refers it; no department-head step.
test_chief_refers_reviewed_case_to_committee_allowed if {
	d := t.decide(chief, "case.refer_to_committee", t.sole_case, {})
	d.decision == true
	t.codes(d) == {"chief_refers_to_committee"}
	t.obligation_codes(d) == set()
}

# R08-3, A5: a chief matter reaches the committee after the department head's review, or says why not.
test_chief_refers_chief_matter_records_review if {
	d := t.decide(chief, "case.refer_to_committee", t.escalated_case, {})
	d.decision == true
	t.obligation_codes(d) == {"record_department_head_review"}
	reviewed := t.decide(chief, "case.refer_to_committee", t.escalated_case, {"department_head_review_done": true})
	t.obligation_codes(reviewed) == set()
}

# R22-3: reports need no condition.
test_chief_requests_report_allowed if {
	d := t.decide(chief, "case.request_report", t.sole_case, {})
	d.decision == true
	t.codes(d) == {"chief_requests_report"}
}

# R22-4: each of the five circumstances, cited as the item.
test_chief_demands_explanation_in_listed_circumstance_allowed if {
	every i in [1, 2, 3, 4, 5] {
		d := t.decide(chief, "case.demand_explanation", t.sole_case, {"circumstance": i})
		d.decision == true
		{r.item | some r in d.reasons} == {i}
		t.obligation_codes(d) == {"record_explanation_circumstance"}
	}
}

# R22-4, A28: without a listed circumstance, no demand.
test_chief_demands_explanation_without_circumstance_denied if {
	every ctx in [{}, {"circumstance": null}, {"circumstance": 6}, {"circumstance": "1"}] {
		d := t.decide(chief, "case.demand_explanation", t.sole_case, ctx)
		d.decision == false
		t.codes(d) == {"explanation_requires_circumstance"}
	}
}

# 四: the chief supervises the cases of this procuratorate (the common rule).
test_chief_of_other_procuratorate_requests_report_denied if {
	other := at("PROC-CITY-B", "chief-B", "chief_procurator", {})
	d := t.decide(other, "case.request_report", t.sole_case, {})
	t.codes(d) == {"procuratorate_mismatch"}
}

# R08-4: a procurator brings a case to the committee only through the chief.
test_procurator_refers_to_committee_escalated_to_chief if {
	d := t.decide(t.person("p-A1", "procurator", {}), "case.refer_to_committee", t.sole_case, {})
	d.decision == false
	d.escalate_to == "chief"
	t.codes(d) == {"refer_through_chief"}
	t.articles(d) == {"八"}
}

# R08-4: so does a department head.
test_dept_head_refers_to_committee_escalated_to_chief if {
	d := t.decide(t.dept_head, "case.refer_to_committee", t.escalated_case, {})
	d.escalate_to == "chief"
	t.codes(d) == {"refer_through_chief"}
}

# 二十二: requiring reports is the chief's, not a procurator's.
test_procurator_requests_report_not_granted if {
	d := t.decide(t.person("p-A1", "procurator", {}), "case.request_report", t.sole_case, {})
	t.codes(d) == {"action_not_granted"}
}

# ================================================================ 四十六 delegates and A7 leaders

# dep-D2 supervises DEPT-CRIM-1 and dep-D4 DEPT-CIVIL-1 in the example directory; neither holds a
# grant, so each test gives the delegation it is about.
registered(scope) := {
	"document": "A检委托〔2024〕9号",
	"kind": "delegation",
	"grantor": "chief-A",
	"procuratorate": "PROC-CITY-A",
	"scope": scope,
	"valid_from": "2024-07-04",
}

supervising := t.person(
	"dep-D2",
	"deputy_chief_procurator",
	{"roles": ["deputy_chief_procurator", "procurator", "committee_member"]},
)

civil_supervisor := t.person(
	"dep-D4",
	"deputy_chief_procurator",
	{"roles": ["deputy_chief_procurator", "procurator", "committee_member"]},
)

decide_delegated(subject, scope, act, res, ctx) := d if {
	d := t.decide(subject, act, res, ctx) with data.quanze.directory.grants as {subject.id: [registered(scope)]}
}

# 四十六, R08-3: a delegate refers to the committee as the chief would.
test_delegate_refers_to_committee_allowed if {
	d := decide_delegated(supervising, ["case.refer_to_committee"], "case.refer_to_committee", t.sole_case, {})
	d.decision == true
	t.codes(d) == {"chief_refers_to_committee", "delegate_acts_for_chief"}
}

# R08-4, 四十六: an undelegated deputy refers through the chief, even in their own area.
test_deputy_without_delegation_refers_to_committee_escalated if {
	d := t.decide(supervising, "case.refer_to_committee", t.sole_case, {})
	d.escalate_to == "chief"
	t.codes(d) == {"refer_through_chief"}
}

# 四十六, R22-4: a delegate demands an explanation in a listed circumstance.
test_delegate_demands_explanation_allowed if {
	d := decide_delegated(supervising, ["*"], "case.demand_explanation", t.sole_case, {"circumstance": 2})
	d.decision == true
	t.codes(d) == {"chief_demands_explanation", "delegate_acts_for_chief"}
}

# 四十六, R22-4: the delegation does not lift the circumstance condition.
test_delegate_demands_explanation_without_circumstance_denied if {
	d := decide_delegated(supervising, ["*"], "case.demand_explanation", t.sole_case, {})
	t.codes(d) == {"explanation_requires_circumstance"}
}

# R04-2, A7: the deputy's own area does not include the chief's power to demand explanations.
test_deputy_without_delegation_demands_explanation_denied if {
	d := t.decide(supervising, "case.demand_explanation", t.sole_case, {"circumstance": 1})
	d.decision == false
	t.codes(d) == {"chief_power_requires_delegation", "action_not_granted"}
	t.articles(d) == {"四十六", "二十二"}
}

# A7 (四): a deputy reviews cases of a department they supervise, without a delegation (二十五).
test_deputy_reviews_supervised_department_case_allowed if {
	d := t.decide(supervising, "opinion.review", t.sole_case, {})
	d.decision == true
	t.codes(d) == {"leader_supervises_department"}
	t.articles(d) == {"四"}
	d.accountable == {{
		"subject_id": "dep-D2",
		"capacity": "deputy_chief_procurator",
		"responsibility": "supervisory",
		"article": "二十五",
	}}
}

# A7, P9 (三十): re-examination required by a deputy; the deputy supervisory, p-A1 judicial.
test_deputy_orders_reexamination_in_supervised_department_allowed if {
	d := t.decide(supervising, "case.order_reexamination", t.sole_case, {})
	d.decision == true
	d.accountable == {
		{"subject_id": "dep-D2", "capacity": "deputy_chief_procurator", "responsibility": "supervisory", "article": "三十"},
		{"subject_id": "p-A1", "capacity": "handling_procurator", "responsibility": "judicial", "article": "三十"},
	}
}

# A7: reports within the area.
test_deputy_requests_report_in_supervised_department_allowed if {
	d := t.decide(supervising, "case.request_report", t.sole_case, {})
	d.decision == true
}

# A7: outside the departments supervised, deny.
test_deputy_reviews_outside_supervised_departments_denied if {
	every act in ["opinion.review", "case.order_reexamination", "case.request_report"] {
		d := t.decide(civil_supervisor, act, t.sole_case, {})
		d.decision == false
		t.codes(d) == {"outside_supervised_departments"}
	}
}

# A7: a deputy with no area recorded supervises nothing of their own.
test_deputy_without_supervised_departments_denied if {
	d := t.decide(
		supervising,
		"opinion.review",
		t.sole_case,
		{},
	) with data.quanze.directory.procuratorates["PROC-CITY-A"].deputy_chiefs["dep-D2"].supervises_departments as []
	t.codes(d) == {"outside_supervised_departments"}
}

# A7: a case that names no department is in no one's area.
test_deputy_reviews_case_without_department_denied if {
	case := {"type": "case", "id": "C-8", "properties": {"procuratorate": "PROC-CITY-A", "department": ""}}
	d := t.decide(
		supervising,
		"opinion.review",
		case,
		{},
	) with data.quanze.directory.procuratorates["PROC-CITY-A"].deputy_chiefs["dep-D2"].supervises_departments as [""]
	t.codes(d) == {"outside_supervised_departments"}
}

# A7: full-time committee members supervise their area likewise.
test_full_time_member_reviews_supervised_department_allowed if {
	member := t.person(
		"ftm-F1",
		"full_time_committee_member",
		{"roles": ["full_time_committee_member", "procurator"], "supervises_departments": ["DEPT-CRIM-1"]},
	)
	d := t.decide(member, "case.order_reexamination", t.sole_case, {})
	d.decision == true
	t.codes(d) == {"leader_supervises_department"}
}

# 四十六: a covering delegation reaches beyond the area.
test_delegate_reviews_outside_supervised_department_allowed if {
	d := decide_delegated(civil_supervisor, ["opinion.review"], "opinion.review", t.sole_case, {})
	d.decision == true
	t.codes(d) == {"chief_reviews_procurator_decision", "delegate_acts_for_chief"}
}

# ================================================================ 二十三(4)–(8): department heads

staff_record := {
	"type": "procurator_quota",
	"id": "Q-p-A1",
	"properties": {"procuratorate": "PROC-CITY-A", "department": "DEPT-CRIM-1", "subject_of_decision": "p-A1"},
}

# 二十三(4): routine checks of the department's cases; 二十五 for supervision. (R23-4)
test_dept_head_routine_check_own_department_allowed if {
	d := t.decide(t.dept_head, "case.routine_check", t.sole_case, {})
	d.decision == true
	some r in d.reasons
	r.code == "dept_head_routine_check"
	r.article == "二十三"
	r.item == 4
	d.accountable == {{
		"subject_id": "dh-A1",
		"capacity": "department_head",
		"responsibility": "supervisory",
		"article": "二十五",
	}}
}

# 二十三(4) "本部门检察官办理的案件".
test_dept_head_routine_check_other_department_denied if {
	civil := {
		"type": "case",
		"id": "C-6",
		"properties": object.union(t.sole_case.properties, {"department": "DEPT-CIVIL-1"}),
	}
	d := t.decide(t.dept_head, "case.routine_check", civil, {})
	t.codes(d) == {"outside_own_department"}
}

# 二十三(5). (R23-5)
test_dept_head_urges_execution_allowed if {
	d := t.decide(t.dept_head, "decision.urge_execution", t.sole_case, {"decision_source": "committee"})
	d.decision == true
	t.codes(d) == {"dept_head_urges_execution"}
}

# 二十三(6): the correction is followed up until rectified. (R23-6)
test_dept_head_proposes_correction_allowed_with_follow_up if {
	d := t.decide(t.dept_head, "correction.propose", t.sole_case, {})
	d.decision == true
	t.obligation_codes(d) == {"follow_up_rectification"}
}

# 二十三(7). (R23-7)
test_dept_head_reports_performance_allowed if {
	d := t.decide(t.dept_head, "performance.report", staff_record, {})
	d.decision == true
	t.codes(d) == {"dept_head_reports_performance"}
}

# 二十三(8): staff of the head's own department. (R23-8)
test_dept_head_assesses_own_staff_allowed if {
	d := t.decide(t.dept_head, "staff.assess", staff_record, {})
	d.decision == true
	some r in d.reasons
	r.item == 8
}

# 二十三(8) "本部门检察人员".
test_dept_head_assesses_other_department_staff_denied if {
	other := {
		"type": "procurator_quota",
		"id": "Q-p-C9",
		"properties": {"procuratorate": "PROC-CITY-A", "department": "DEPT-CIVIL-1", "subject_of_decision": "p-C9"},
	}
	d := t.decide(t.dept_head, "staff.assess", other, {})
	d.decision == false
	t.codes(d) == {"assess_own_department_staff_only"}
}

# 四十五: the duties are a department head's with procurator status.
test_dept_head_without_procurator_status_routine_check_denied if {
	head := t.person("dh-C1", "department_head", {})
	d := t.decide(head, "case.routine_check", t.sole_case, {})
	t.codes(d) == {"dept_head_requires_procurator_status"}
}

# 二十三: these are department heads' duties, not a procurator's.
test_procurator_routine_check_not_granted if {
	d := t.decide(t.person("p-A1", "procurator", {}), "case.routine_check", t.sole_case, {})
	t.codes(d) == {"action_not_granted"}
}

# ListAllowedActions gives the same answers as Check for these acts.
test_list_agrees_with_check_for_supervision if {
	request := t.request(supervising, "opinion.review", t.sole_case, {})
	listed := data.quanze.authz.decisions with input as object.remove(request, ["action"])
	every act in [
		"opinion.review",
		"case.order_reexamination",
		"case.request_report",
		"case.demand_explanation",
		"case.refer_to_committee",
	] {
		listed[act] == t.decide(supervising, act, t.sole_case, {})
	}
}

# 三 (R03-2): a committee composed against 三 decides no directive either (PROC-CITY-B's: two
# members, no full-time member).
test_directive_by_invalid_committee_denied if {
	committee_b := {"type": "body", "id": "ctte-B", "properties": {"role": "committee", "procuratorate": "PROC-CITY-B"}}
	case := {
		"type": "case",
		"id": "C-8",
		"properties": {
			"procuratorate": "PROC-COUNTY-B1",
			"department": "DEPT-CRIM-1",
			"handling_mode": "sole",
			"sole_procurator": "p-KB1",
		},
	}
	d := t.decide(committee_b, "directive.order_correction", case, by_committee)
	t.codes(d) == {"committee_composition_invalid"}
}

# 八, 二十三(1): a head forwards a case to the chief with a review it is authorised to make; the
# report after a joint meeting's majority disagreed is its duty without one (二十四).
test_unauthorised_head_forwards_only_after_joint_meeting if {
	head := t.person("dh-A2", "department_head", {"roles": ["department_head", "procurator"]})
	ctx := {"attached": ["procurator_opinion"]}
	t.codes(t.decide(head, "case.report_to_chief", t.escalated_case, ctx)) == {"review_not_authorized"}
	meeting := object.union(
		ctx,
		{"joint_meeting": {"held": true, "majority_opinion": "not_prosecute", "procurator_opinion": "prosecute"}},
	)
	t.decide(head, "case.report_to_chief", t.escalated_case, meeting).decision == true
}
