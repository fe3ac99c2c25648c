package quanze.rules.delegation_test

import rego.v1

import data.quanze.authz
import data.quanze.testlib as t

chief := t.person("chief-A", "chief_procurator", {"roles": ["chief_procurator", "procurator", "committee_member"]})

procurator := t.person("p-A1", "procurator", {})

outsider := t.person("p-X9", "procurator", {})

# A registered delegation from chief-A (the example registry gives dep-D2 and ftm-F1 none).
registered(scope) := {
	"document": "A检委托〔2024〕9号",
	"kind": "delegation",
	"grantor": "chief-A",
	"procuratorate": "PROC-CITY-A",
	"scope": scope,
	"valid_from": "2024-07-04",
}

deputy := t.person("dep-D2", "deputy_chief_procurator", {"roles": ["deputy_chief_procurator", "procurator"]})

full_time_member := t.person(
	"ftm-F1",
	"full_time_committee_member",
	{"roles": ["full_time_committee_member", "procurator"]},
)

# The decision for `subject` holding a registered delegation of `scope`.
decide_delegated(subject, scope, act, res, ctx) := d if {
	d := t.decide(subject, act, res, ctx) with data.quanze.directory.grants as {subject.id: [registered(scope)]}
}

# The record a conferral creates (resource type "delegation").
record(props) := {
	"type": "delegation",
	"id": "DEL-1",
	"properties": object.union({"procuratorate": "PROC-CITY-A"}, props),
}

# Who holds each office in the example directory.
holder := {
	"deputy_chief_procurator": "dep-D2", "full_time_committee_member": "ftm-F1",
	"department_head": "dh-A2", "procurator": "p-A1", "committee_member": "p-S2",
	"procurator_assistant": "asst-A1",
}

delegating(role) := record({
	"grantee": holder[role],
	"grantee_role": role,
	"scope": ["decision.prosecute"],
	"valid_until": "2099-12-31T00:00:00Z",
})

entrusting(role, task) := record({"grantee": holder[role], "grantee_role": role, "task": task})

authorizing(role, scope) := record({"grantee": holder[role], "grantee_role": role, "scope": scope})

approval_ctx := {"approved_assistant": "asst-S1"}

# ---------------------------------------------------------------- 四十六 delegation

# R46-1: the chief delegates to a deputy chief or a full-time committee member, recording
# the scope and validity (A8); conferring authority is management, so the chief answers for it as
# supervisor (二十五).
test_chief_delegates_to_deputy_or_full_time_member_allowed if {
	every role in ["deputy_chief_procurator", "full_time_committee_member"] {
		d := t.decide(chief, "delegation.grant", delegating(role), {})
		d.decision == true
		t.codes(d) == {"chief_delegates_power"}
		t.articles(d) == {"四十六"}
		t.obligation_codes(d) == {"record_delegation_scope_and_validity"}
		d.accountable == {{
			"subject_id": "chief-A",
			"capacity": "chief_procurator",
			"responsibility": "supervisory",
			"article": "二十五",
		}}
	}
}

# R46-2: to anyone else — or to no stated role — the delegation is void.
test_chief_delegates_to_ineligible_role_denied if {
	every role in ["department_head", "procurator", "committee_member", "procurator_assistant"] {
		d := t.decide(chief, "delegation.grant", delegating(role), {})
		d.decision == false
		t.codes(d) == {"delegation_void_ineligible_delegate"}
	}
	unstated := t.decide(chief, "delegation.grant", record({"scope": ["decision.prosecute"]}), {})
	t.codes(unstated) == {"delegation_void_ineligible_delegate"}
}

# 四十六, 四十五: who the grantee is comes from the directory: p-A1 described as a deputy chief is
# still a procurator, so the delegation is void and the description contradicts the directory.
test_chief_delegates_to_procurator_described_as_deputy_denied if {
	d := t.decide(
		chief,
		"delegation.grant",
		record({"grantee": "p-A1", "grantee_role": "deputy_chief_procurator", "scope": ["decision.prosecute"]}),
		{},
	)
	d.decision == false
	t.codes(d) == {"delegation_void_ineligible_delegate", "grantee_role_contradicts_directory"}
	some r in d.reasons
	contains(r.message_en, "p-A1 holds procurator in PROC-CITY-A")
}

# A8: a delegation states the powers it covers.
test_chief_delegates_without_scope_denied if {
	d := t.decide(chief, "delegation.grant", record({"grantee": "dep-D2", "grantee_role": "deputy_chief_procurator"}), {})
	d.decision == false
	t.codes(d) == {"delegation_scope_required"}
	bad := t.decide(
		chief,
		"delegation.grant",
		record({"grantee": "dep-D2", "grantee_role": "deputy_chief_procurator", "scope": "decision.prosecute"}),
		{},
	)
	t.codes(bad) == {"delegation_scope_required"}
}

# R46-4: a delegate — even one whose delegation names delegation.grant — cannot delegate onward.
test_delegate_sub_delegates_denied if {
	every scope in [["delegation.grant"], ["*"]] {
		d := decide_delegated(deputy, scope, "delegation.grant", delegating("full_time_committee_member"), {})
		d.decision == false
		t.codes(d) == {"no_sub_delegation"}
	}
	plain := t.decide(full_time_member, "delegation.grant", delegating("deputy_chief_procurator"), {})
	t.codes(plain) == {"no_sub_delegation"}
}

# R46-2: delegating is the chief's alone; a department head is simply not given it.
test_dept_head_delegates_denied if {
	d := t.decide(t.dept_head, "delegation.grant", delegating("deputy_chief_procurator"), {})
	t.codes(d) == {"action_not_granted", "outside_role_duties"}
}

# ---------------------------------------------------------------- 十四(10) entrustment

# R14-10, A10: the chief entrusts a procurator with a named matter, and the entrustment is recorded.
test_chief_entrusts_procurator_with_named_task_allowed if {
	d := t.decide(chief, "entrustment.grant", entrusting("procurator", "attend the coordination meeting"), {})
	d.decision == true
	t.codes(d) == {"chief_entrusts_procurator"}
	t.obligation_codes(d) == {"record_entrustment"}
	head := t.decide(chief, "entrustment.grant", entrusting("department_head", "attend"), {})
	head.decision == true
}

# 十四(10) "其他办案事项", A17: an entrustment cannot hand a procurator a decision.
test_chief_entrusts_a_decision_denied if {
	d := t.decide(chief, "entrustment.grant", entrusting("procurator", "决定对本案提起公诉"), {})
	d.decision == false
	t.codes(d) == {"task_names_reserved_power"}
}

# 二十三, 四十五: an authorisation goes to a head with procurator status; dh-C1 heads a department
# without it. Granting any conferral, the chief answers as supervisor (二十五).
test_chief_authorizes_head_without_procurator_status_denied if {
	d := t.decide(chief, "authorization.grant", record({"grantee": "dh-C1", "scope": ["review.escalated_cases"]}), {})
	d.decision == false
	t.codes(d) == {"authorization_grantee_not_department_head"}
	ok := t.decide(chief, "authorization.grant", authorizing("department_head", ["review.escalated_cases"]), {})
	ok.decision == true
	ok.accountable == {{
		"subject_id": "chief-A",
		"capacity": "chief_procurator",
		"responsibility": "supervisory",
		"article": "二十五",
	}}
}

# A grant record need not describe the grantee's office: the directory knows it.
test_chief_delegates_without_stating_grantee_role_allowed if {
	d := t.decide(chief, "delegation.grant", record({"grantee": "dep-D2", "scope": ["decision.prosecute"]}), {})
	d.decision == true
	t.codes(d) == {"chief_delegates_power"}
}

# A10, A17: an entrustment names its task.
test_chief_entrusts_unnamed_task_denied if {
	d := t.decide(chief, "entrustment.grant", entrusting("procurator", ""), {})
	d.decision == false
	t.codes(d) == {"entrusted_task_not_named"}
}

# 十四: the entrustee is a procurator; an assistant is tasked by procurators (十七(7)).
test_chief_entrusts_assistant_denied if {
	d := t.decide(chief, "entrustment.grant", entrusting("procurator_assistant", "attend"), {})
	d.decision == false
	t.codes(d) == {"entrustee_not_procurator"}
}

# A8 (J): a delegation claiming to cover entrusting or authorising does not pass them on.
test_delegate_entrusts_or_authorizes_denied if {
	e := decide_delegated(deputy, ["entrustment.grant"], "entrustment.grant", entrusting("procurator", "attend"), {})
	e.decision == false
	t.codes(e) == {"conferral_reserved_to_chief", "action_not_granted"}
	a := decide_delegated(
		deputy,
		["*"],
		"authorization.grant",
		authorizing("department_head", ["review.escalated_cases"]),
		{},
	)
	t.codes(a) == {"conferral_reserved_to_chief", "action_not_granted"}
	plain := decide_delegated(deputy, ["decision.prosecute"], "entrustment.grant", entrusting("procurator", "attend"), {})
	t.codes(plain) == {"action_not_granted", "outside_role_duties"}
}

# ---------------------------------------------------------------- 二十三(1)(2) authorisation

# R23-1, R23-2, A5: the chief authorises a department head, citing each item authorised.
test_chief_authorizes_dept_head_review_allowed if {
	d := t.decide(
		chief,
		"authorization.grant",
		authorizing("department_head", ["review.escalated_cases", "review.legal_documents"]),
		{},
	)
	d.decision == true
	{[r.code, r.item] | some r in d.reasons} == {["chief_authorizes_review", 1], ["chief_authorizes_review", 2]}
	t.obligation_codes(d) == {"record_authorization", "fix_document_review_scope"}
	cases_only := t.decide(chief, "authorization.grant", authorizing("department_head", ["review.escalated_cases"]), {})
	t.obligation_codes(cases_only) == {"record_authorization"}
}

# 二十三: the authorisation is to a department head.
test_chief_authorizes_procurator_review_denied if {
	d := t.decide(chief, "authorization.grant", authorizing("procurator", ["review.escalated_cases"]), {})
	d.decision == false
	t.codes(d) == {"authorization_grantee_not_department_head"}

	# dh-C1 heads a department but without procurator status, which 四十五 requires of a
	# 业务部门负责人; the directory still shows the headship, and 二十三's own checks apply later.
	described := t.decide(
		chief,
		"authorization.grant",
		record({"grantee": "p-A1", "grantee_role": "department_head", "scope": ["review.escalated_cases"]}),
		{},
	)
	t.codes(described) == {"authorization_grantee_not_department_head", "grantee_role_contradicts_directory"}
}

# 二十三(1)(2): only the two review authorisations exist; an empty one authorises nothing.
test_chief_authorizes_unknown_scope_denied if {
	d := t.decide(
		chief,
		"authorization.grant",
		authorizing("department_head", ["review.escalated_cases", "decision.prosecute"]),
		{},
	)
	d.decision == false
	t.codes(d) == {"authorization_scope_not_recognised"}
	empty := t.decide(chief, "authorization.grant", authorizing("department_head", []), {})
	t.codes(empty) == {"authorization_scope_not_recognised"}
}

# 二十三: a department head does not authorise.
test_dept_head_authorizes_denied if {
	d := t.decide(t.dept_head, "authorization.grant", authorizing("department_head", ["review.escalated_cases"]), {})
	t.codes(d) == {"action_not_granted"}
}

# ---------------------------------------------------------------- 十七(6) approval

# R17-6b, A16: the chief approves, naming the assistant, and answers for it (二十八).
test_chief_approves_senior_assistant_court_allowed if {
	d := t.decide(chief, "approval.senior_assistant_court", t.sole_case, approval_ctx)
	d.decision == true
	t.codes(d) == {"chief_approves_senior_assistant_court"}
	t.obligation_codes(d) == {"record_approval_naming_assistant"}
	d.accountable == {{
		"subject_id": "chief-A",
		"capacity": "chief_procurator",
		"responsibility": "judicial",
		"article": "二十八",
	}}
}

# A16, 四十六: a delegate whose delegation covers the approval approves as the chief and answers
# for it (P4); the delegating chief is named in the reason, not made accountable (A9).
test_delegate_approves_senior_assistant_court_allowed if {
	d := decide_delegated(
		full_time_member,
		["approval.senior_assistant_court"],
		"approval.senior_assistant_court",
		t.sole_case,
		approval_ctx,
	)
	d.decision == true
	t.codes(d) == {"delegate_approves_for_chief"}
	some r in d.reasons
	contains(r.message_en, "delegated by chief-A")
	d.accountable == {{
		"subject_id": "ftm-F1",
		"capacity": "full_time_committee_member",
		"responsibility": "judicial",
		"article": "二十八",
	}}
}

# 四十六: without a covering delegation a deputy does not approve.
test_deputy_without_covering_delegation_approves_denied if {
	d := decide_delegated(deputy, ["decision.prosecute"], "approval.senior_assistant_court", t.sole_case, approval_ctx)
	d.decision == false
	t.codes(d) == {"chief_power_not_delegated", "action_not_granted"}
}

# A16: a department head's approval is invalid.
test_dept_head_approves_senior_assistant_court_denied if {
	d := t.decide(t.dept_head, "approval.senior_assistant_court", t.sole_case, approval_ctx)
	d.decision == false
	t.codes(d) == {"dept_head_approval_invalid"}
}

# 十七(6) "高阶段的检察官助理": the approval names an assistant the directory shows at the senior stage.
test_chief_approves_assistant_not_at_senior_stage_denied if {
	d := t.decide(chief, "approval.senior_assistant_court", t.sole_case, {"approved_assistant": "asst-A1"})
	d.decision == false
	t.codes(d) == {"approved_assistant_not_senior"}
}

# A16: the approval names the assistant.
test_chief_approves_without_naming_assistant_denied if {
	d := t.decide(chief, "approval.senior_assistant_court", t.sole_case, {})
	d.decision == false
	t.codes(d) == {"approval_must_name_assistant"}
}

# ---------------------------------------------------------------- 十八 technical assignment

# R18-0, A18: a procurator handling the case assigns or entrusts technical staff.
test_handling_procurator_assigns_technical_staff_allowed if {
	every ctx in [{}, {"assignment_type": "指派"}, {"assignment_type": "委托"}] {
		d := t.decide(procurator, "assignment.technical", t.sole_case, ctx)
		d.decision == true
		t.codes(d) == {"handling_procurator_assigns_technical_staff"}
		t.obligation_codes(d) == {"record_technical_assignment"}
	}
}

# A18: the chief acting as the case's procurator assigns too.
test_chief_handling_case_assigns_technical_staff_allowed if {
	own := {
		"type": "case",
		"id": "C-9",
		"properties": object.union(t.sole_case.properties, {"sole_procurator": "chief-A"}),
	}
	d := t.decide(chief, "assignment.technical", own, {})
	d.decision == true
}

# 十八: a procurator not handling the case does not assign.
test_other_procurator_assigns_technical_staff_denied if {
	d := t.decide(outsider, "assignment.technical", t.sole_case, {})
	d.decision == false
	t.codes(d) == {"assigner_not_handling_procurator"}
	chief_not_handling := t.decide(chief, "assignment.technical", t.sole_case, {})
	t.codes(chief_not_handling) == {"assigner_not_handling_procurator"}
}

# 十八: "指派、委托" are the only forms.
test_assignment_of_unknown_type_denied if {
	d := t.decide(procurator, "assignment.technical", t.sole_case, {"assignment_type": "借调"})
	d.decision == false
	t.codes(d) == {"assignment_type_not_recognised"}
}

# 十八: an assistant does not assign technical staff.
test_assistant_assigns_technical_staff_denied if {
	d := t.decide(t.assistant, "assignment.technical", t.sole_case, t.guided)
	t.codes(d) == {"action_not_granted", "outside_role_duties"}
}

# ---------------------------------------------------------------- the whole catalog

test_list_agrees_with_check_for_conferrals if {
	grants := {"dep-D2": [registered(["approval.senior_assistant_court"])]}
	every subject in [chief, deputy, t.dept_head, procurator] {
		res := authorizing("department_head", ["review.legal_documents"])
		ds := authz.decisions with input as {"subject": subject, "resource": res, "context": approval_ctx}
			with data.quanze.directory.grants as grants
		every act in [
			"delegation.grant",
			"entrustment.grant",
			"authorization.grant",
			"approval.senior_assistant_court",
			"assignment.technical",
		] {
			ds[act] == t.decide(subject, act, res, approval_ctx) with data.quanze.directory.grants as grants
		}
	}
}

# R46-4, A8: delegating, entrusting and authorising cannot themselves be delegated, and a
# delegation whose validity ends before it begins is never in force.
test_delegation_of_conferrals_or_with_inverted_validity_denied if {
	conferral := record({
		"grantee": "dep-D2",
		"grantee_role": "deputy_chief_procurator",
		"scope": ["decision.prosecute", "entrustment.grant"],
	})
	t.codes(t.decide(chief, "delegation.grant", conferral, {})) == {"conferral_not_delegable"}
	inverted := record({
		"grantee": "dep-D2",
		"grantee_role": "deputy_chief_procurator",
		"scope": ["decision.prosecute"],
		"valid_from": "2026-01-01",
		"valid_until": "2025-12-31",
	})
	t.codes(t.decide(chief, "delegation.grant", inverted, {})) == {"validity_ends_before_it_begins"}
}
