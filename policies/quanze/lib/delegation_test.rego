package quanze.lib.delegation_test

import rego.v1

import data.quanze.lib.delegation
import data.quanze.testlib as t

# dep-D2 is a deputy chief of PROC-CITY-A with no grant in the example registry; chief-A is
# its chief. Each test gives dep-D2 the grants it is about.
deputy(extra) := t.person(
	"dep-D2",
	"deputy_chief_procurator",
	object.union({"roles": ["deputy_chief_procurator", "procurator", "committee_member"]}, extra),
)

registered := {
	"document": "A检委托〔2024〕9号", "kind": "delegation", "grantor": "chief-A",
	"procuratorate": "PROC-CITY-A", "scope": ["decision.prosecute"],
	"valid_from": "2024-07-04", "valid_until": "2099-12-31",
}

covers(subject, act, grants) if {
	delegation.covers(act) with input as t.request(subject, act, t.escalated_case, {})
		with data.quanze.directory.grants as {subject.id: grants}
}

carried := {
	"from": "chief-A",
	"scope": ["decision.prosecute"],
	"valid_from": "2024-07-04T00:00:00Z",
	"valid_until": "2099-12-31T00:00:00Z",
}

covers_carried(subject, act) if {
	delegation.covers(act) with input as t.request(subject, act, t.escalated_case, {})
		with data.quanze.directory.delegation_registry as false
}

claim_codes(subject, grants) := {p.code | some p in problems} if {
	problems := delegation.claim_problems with input as t.request(subject, "decision.prosecute", t.escalated_case, {})
		with data.quanze.directory.grants as {subject.id: grants}
}

# 四十六: a deputy chief exercises the chief's power within the registered delegation's scope.
test_registered_delegation_covers_its_scope_only if {
	covers(deputy({}), "decision.prosecute", [registered])
	not covers(deputy({}), "decision.not_prosecute", [registered])
}

# 四十六, A8: the registry's grants count without the request carrying them, and a request
# carrying none of them cannot add any: nothing registered, nothing covered.
test_unregistered_deputy_covers_nothing if {
	not covers(deputy({"delegations": [carried]}), "decision.prosecute", [])
}

# A8: a family such as decision.* covers every action whose id starts with it; * every power.
test_action_family_and_every_power_scopes if {
	covers(deputy({}), "decision.not_prosecute", [object.union(registered, {"scope": ["decision.*"]})])
	not covers(deputy({}), "request.to_higher", [object.union(registered, {"scope": ["decision.*"]})])
	covers(deputy({}), "request.to_higher", [object.union(registered, {"scope": ["*"]})])
}

# A8: outside its validity window, or once revoked, a registered delegation counts for nothing.
test_expired_future_or_revoked_delegation_does_not_cover if {
	not covers(deputy({}), "decision.prosecute", [object.union(registered, {"valid_until": "2020-01-01"})])
	not covers(deputy({}), "decision.prosecute", [object.union(registered, {"valid_from": "2099-01-01"})])
	not covers(deputy({}), "decision.prosecute", [object.union(registered, {"revoked_on": "2025-01-01"})])
}

# 四十六: only the chief delegates; a grant whose grantor is not the chief today is void, so a
# deputy's own "delegation" to another deputy (sub-delegation, R46-4) never counts.
test_delegation_by_someone_other_than_the_chief_void if {
	not covers(deputy({}), "decision.prosecute", [object.union(registered, {"grantor": "dep-D1"})])
}

# 四十六: a delegation is exercised in the procuratorate whose chief gave it.
test_delegation_of_another_procuratorate_does_not_cover if {
	not covers(
		deputy({}),
		"decision.prosecute",
		[object.union(registered, {"procuratorate": "PROC-CITY-B", "grantor": "chief-B"})],
	)
}

# A8: a case scope limits the delegation to the cases, departments or categories it lists.
test_case_scope_limits_the_delegation if {
	covers(deputy({}), "decision.prosecute", [object.union(registered, {"case_scope": {"case_ids": ["C-1001"]}})])
	not covers(deputy({}), "decision.prosecute", [object.union(registered, {"case_scope": {"case_ids": ["C-9999"]}})])
	covers(
		deputy({}),
		"decision.prosecute",
		[object.union(registered, {"case_scope": {"departments": ["DEPT-CRIM-1"], "case_categories": ["criminal"]}})],
	)
	not covers(
		deputy({}),
		"decision.prosecute",
		[object.union(registered, {"case_scope": {"case_categories": ["civil"]}})],
	)
}

# 四十六, R46-2: a delegation held by a department head is void (the grantee is ineligible).
test_delegation_held_by_department_head_does_not_cover if {
	head := t.person("dh-A1", "department_head", {"roles": ["department_head", "procurator"]})
	not covers(head, "decision.prosecute", [registered])
}

# 四十六: a full-time committee member may hold a delegation.
test_full_time_member_with_registered_delegation_covers if {
	member := t.person(
		"ftm-F1",
		"full_time_committee_member",
		{"roles": ["full_time_committee_member", "procurator"], "supervises_departments": ["DEPT-CRIM-1"]},
	)
	covers(member, "decision.prosecute", [registered])
}

# Registry on: a delegation the request carries must copy a registered one; one that matches none
# (another grantor, another document, a wider scope, another period) is a claim the registry
# contradicts. Leaving the document or the period out is not.
test_carried_delegation_compared_with_the_registry if {
	claim_codes(deputy({"delegations": [carried]}), [registered]) == set()
	claim_codes(deputy({"delegations": [object.remove(carried, ["valid_from", "valid_until"])]}), [registered]) == set()
	claim_codes(
		deputy({"delegations": [object.union(carried, {"valid_until": "2199-12-31"})]}),
		[registered],
	) == {"delegation_not_in_registry"}
	claim_codes(
		deputy({"delegations": [object.union(carried, {"valid_from": "2024-01-01"})]}),
		[registered],
	) == {"delegation_not_in_registry"}
	claim_codes(deputy({"delegations": [object.union(carried, {"document": "A检委托〔2024〕9号"})]}), [registered]) == set()
	claim_codes(deputy({"delegations": [carried]}), []) == {"delegation_not_in_registry"}
	claim_codes(
		deputy({"delegations": [object.union(carried, {"from": "dep-D1"})]}),
		[registered],
	) == {"delegation_not_in_registry"}
	claim_codes(
		deputy({"delegations": [object.union(carried, {"scope": ["*"]})]}),
		[registered],
	) == {"delegation_not_in_registry"}
	claim_codes(
		deputy({"delegations": [object.union(carried, {"document": "forged"})]}),
		[registered],
	) == {"delegation_not_in_registry"}
}

# Registry off: the delegation the request carries counts after the same checks.
test_registry_off_carried_delegation_checked_like_a_registered_one if {
	covers_carried(deputy({"delegations": [carried]}), "decision.prosecute")
	not covers_carried(deputy({"delegations": [carried]}), "decision.not_prosecute")
	not covers_carried(deputy({"delegations": [object.union(carried, {"from": "dep-D1"})]}), "decision.prosecute")
	not covers_carried(
		deputy({"delegations": [object.union(carried, {"valid_until": "2020-01-01T00:00:00Z"})]}),
		"decision.prosecute",
	)
	not covers_carried(deputy({"delegations": [object.union(carried, {"case_scope": ["C-9999"]})]}), "decision.prosecute")
}

# A8: with the registry off, an unreadable validity time voids the delegation (fail closed).
test_registry_off_unreadable_validity_voids_the_delegation if {
	not covers_carried(
		deputy({"delegations": [object.union(carried, {"valid_until": "next year"})]}),
		"decision.prosecute",
	)
}

# 二十三(1)(2): an authorisation is the registry's, for department heads, in its case scope.
test_authorization_from_the_registry if {
	req := t.request(t.dept_head, "opinion.review", t.escalated_case, {})
	delegation.authorized("review.escalated_cases") with input as req
	not delegation.authorized("review.escalated_cases") with input as req with data.quanze.directory.grants as {}
	civil := {
		"type": "case",
		"id": "C-5",
		"properties": object.union(t.sole_case.properties, {"department": "DEPT-CIVIL-1"}),
	}
	not delegation.authorized("review.escalated_cases") with input as t.request(t.dept_head, "opinion.review", civil, {})
}

# 二十三: with the registry on, a bare authorisation the request names must be registered.
test_unregistered_authorization_named_by_request_contradicted if {
	head := t.person(
		"dh-A2",
		"department_head",
		{"roles": ["department_head", "procurator"], "authorizations": ["review.legal_documents"]},
	)
	problems := delegation.claim_problems with input as t.request(head, "opinion.review", t.escalated_case, {})
	{p.code | some p in problems} == {"authorization_not_in_registry"}
}

# 四十六: another person's delegation (an approver's) is looked up in the registry too.
test_person_covers_looks_up_the_registry if {
	req := t.request(t.assistant, "court.debate", t.sole_case, {})
	delegation.person_covers("dep-D2", "approval.senior_assistant_court", "PROC-CITY-A") with input as req
		with data.quanze.directory.grants as {"dep-D2": [object.union(registered, {"scope": ["approval.*"]})]}
	not delegation.person_covers("dep-D2", "approval.senior_assistant_court", "PROC-CITY-A") with input as req
		with data.quanze.directory.grants as {}
	not delegation.person_covers("dh-A1", "approval.senior_assistant_court", "PROC-CITY-A") with input as req
		with data.quanze.directory.grants as {"dh-A1": [object.union(registered, {"scope": ["approval.*"]})]}
}

# 四十六: the acts a delegate may exercise are exactly those the rule packages give a covering
# delegation: routing's decisive matters, the chief's supervisory acts and three more.
test_delegable_acts_are_those_the_rules_delegate if {
	routed := data.quanze.rules.routing.decisive_actions | {"decision.procedural"}
	supervised := data.quanze.rules.internal_checks.chief_supervisory_acts
	others := {"approval.senior_assistant_court", "accountability.approve_referral", "team.designate_lead"}
	delegation.delegable_acts == (routed | supervised) | others
}

# 四十六: a deny where a delegation would have decided says why it does not count.
test_void_delegation_is_explained if {
	req := t.request(deputy({}), "decision.prosecute", t.escalated_case, {})
	voided := [object.union(registered, {"grantor": "dep-D1"})]
	reasons := delegation.void_delegations(
		"decision.prosecute",
	) with input as req with data.quanze.directory.grants as {"dep-D2": voided}
	{r.why_en | some r in reasons} == {"its grantor is not the chief of the procuratorate"}
	none := delegation.void_delegations(
		"case.review_materials",
	) with input as req with data.quanze.directory.grants as {"dep-D2": voided}
	none == set()
}

# 二十三: an authorisation the request carries as a record is compared with the registry like a
# delegation; with the registry off it counts after the same checks.
test_carried_authorization_record if {
	record := {"from": "chief-A", "scope": ["review.escalated_cases"]}
	head := t.person("dh-A1", "department_head", {"roles": ["department_head", "procurator"], "authorizations": [record]})
	req := t.request(head, "opinion.review", t.escalated_case, {})
	problems := delegation.claim_problems with input as req
	count(problems) == 0
	forged := t.person(
		"dh-A1",
		"department_head",
		{"roles": ["department_head", "procurator"], "authorizations": [object.union(record, {"from": "dep-D1"})]},
	)
	forged_problems := delegation.claim_problems with input as t.request(forged, "opinion.review", t.escalated_case, {})
	{p.code | some p in forged_problems} == {"authorization_not_in_registry"}
	delegation.authorized(
		"review.escalated_cases",
	) with input as req with data.quanze.directory.delegation_registry as false
}

# 四十六: a delegation the request carries for an approver (context.approver_delegation) must be
# the registry's too; with the registry off it is the approver's only grant.
test_carried_approver_delegation if {
	given := {"from": "chief-A", "scope": ["approval.senior_assistant_court"]}
	req := t.request(
		t.senior_assistant,
		"court.debate",
		t.sole_case,
		{"approved_by": "dep-D2", "approver_delegation": given},
	)
	problems := delegation.claim_problems with input as req
	{p.code | some p in problems} == {"delegation_not_in_registry"}
	delegation.person_covers(
		"dep-D2",
		"approval.senior_assistant_court",
		"PROC-CITY-A",
	) with input as req with data.quanze.directory.delegation_registry as false
}
