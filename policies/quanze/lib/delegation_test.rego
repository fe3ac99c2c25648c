package quanze.lib.delegation_test

import rego.v1

import data.quanze.lib.delegation
import data.quanze.testlib as t

deputy(delegations) := t.person("dep-D1", "deputy_chief_procurator", {"roles": ["deputy_chief_procurator", "procurator"], "delegations": delegations})

covers(subject, act) if {
	delegation.covers(act) with input as t.request(subject, act, t.escalated_case, {})
}

valid := {"from": "chief-A", "scope": ["decision.prosecute"], "valid_from": "2024-07-04T00:00:00Z", "valid_until": "2099-12-31T00:00:00Z"}

# 四十六: a deputy chief exercises the chief's power within the delegation's scope.
test_deputy_with_valid_delegation_covers_scoped_action if {
	covers(deputy([valid]), "decision.prosecute")
	not covers(deputy([valid]), "decision.not_prosecute")
}

test_delegation_with_star_scope_covers_every_chief_power if {
	covers(deputy([object.union(valid, {"scope": ["*"]})]), "request.reply_to_lower")
}

# A8: an expired or not yet valid delegation counts for nothing.
test_expired_or_future_delegation_does_not_cover if {
	not covers(deputy([object.union(valid, {"valid_until": "2020-01-01T00:00:00Z"})]), "decision.prosecute")
	not covers(deputy([object.union(valid, {"valid_from": "2099-01-01T00:00:00Z"})]), "decision.prosecute")
}

# A8: an unreadable validity time voids the delegation (fail closed).
test_unreadable_validity_time_does_not_cover if {
	not covers(deputy([object.union(valid, {"valid_until": "next year"})]), "decision.prosecute")
}

# A8: a delegation without a named delegating chief counts for nothing.
test_delegation_without_from_does_not_cover if {
	not covers(deputy([object.remove(valid, ["from"])]), "decision.prosecute")
	not covers(deputy([object.union(valid, {"from": ""})]), "decision.prosecute")
}

# A8: a case scope limits the delegation to the cases it lists.
test_case_scope_limits_the_delegation if {
	covers(deputy([object.union(valid, {"case_scope": ["C-1001"]})]), "decision.prosecute")
	not covers(deputy([object.union(valid, {"case_scope": ["C-9999"]})]), "decision.prosecute")
}

# 四十六, R46-2: delegation to a department head or procurator is void.
test_delegation_held_by_department_head_does_not_cover if {
	head := t.person("dh-A1", "department_head", {"roles": ["department_head", "procurator"], "delegations": [valid]})
	not covers(head, "decision.prosecute")
}

# 四十六: a full-time committee member may hold a delegation.
test_full_time_member_with_valid_delegation_covers if {
	member := t.person("ftm-F1", "full_time_committee_member", {"delegations": [valid]})
	covers(member, "decision.prosecute")
}
