package quanze.lib.capacity_test

import rego.v1

import data.quanze.lib.capacity
import data.quanze.testlib as t

# §1.2, 五: the sole procurator is computed from the case.
test_sole_procurator_derived_from_case if {
	roles := capacity.case_roles with input as t.request(
		t.person("p-A1", "procurator", {}),
		"case.review_materials",
		t.sole_case,
		{},
	)
	roles == {"sole_procurator", "handling_procurator"}
}

# §1.2, 五/六: lead and other team procurators are computed from the case.
test_team_roles_derived_from_case if {
	lead := capacity.case_roles with input as t.request(
		t.person("p-L1", "procurator", {}),
		"case.review_materials",
		t.team_case,
		{},
	)
	member := capacity.case_roles with input as t.request(
		t.person("p-T2", "procurator", {}),
		"case.review_materials",
		t.team_case,
		{},
	)
	lead == {"lead_procurator", "handling_procurator"}
	member == {"team_procurator", "handling_procurator"}
}

# §1.2: a case-relative role claimed by the subject is never trusted.
test_claimed_case_role_ignored if {
	claimant := t.person(
		"p-Z1",
		"procurator",
		{"case_roles": ["sole_procurator"], "roles": ["procurator", "sole_procurator"]},
	)
	roles := capacity.case_roles with input as t.request(claimant, "case.review_materials", t.sole_case, {})
	roles == set()
}

test_handling_procurators_of_team_case if {
	handling := capacity.handling_procurators with input as t.request(t.assistant, "evidence.collect", t.team_case, {})
	handling == {"p-L1", "p-T2"}
}

# 五: a team has two or more procurators, led by one of them.
test_team_composition_problems if {
	one := {
		"type": "case",
		"id": "C-2",
		"properties": {
			"procuratorate": "PROC-CITY-A",
			"handling_mode": "team",
			"lead_procurator": "p-L1",
			"team_procurators": ["p-L1", "p-T2"],
		},
	}
	count(capacity.team_composition_problems) == 0 with input as t.request(
		t.person("p-L1", "procurator", {}),
		"decision.prosecute",
		one,
		{},
	)
	outsider := object.union(one, {"properties": object.union(one.properties, {"lead_procurator": "p-X9"})})
	{p.en | some p in capacity.team_composition_problems} == {
		"the lead is one of the team's procurators",
	} with input as t.request(t.person("p-L1", "procurator", {}), "decision.prosecute", outsider, {})
}
