# METADATA
# title: Fixtures shared by the policy tests
# description: |
#   Loaded with the tests only (its file name ends in _test.rego). The people
#   and cases here are those of the decision table: procuratorate PROC-CITY-A,
#   criminal department DEPT-CRIM-1, a sole case handled by p-A1 and a team
#   case led by p-L1 with member p-T2.
package quanze.testlib

import rego.v1

import data.quanze.authz

sole_case := {"type": "case", "id": "C-1001", "properties": {
	"procuratorate": "PROC-CITY-A", "department": "DEPT-CRIM-1", "domain": "criminal",
	"handling_mode": "sole", "sole_procurator": "p-A1", "within_power_list": true,
}}

# The same case, but outside the power list: a matter for the chief (A4, 八).
escalated_case := {
	"type": "case",
	"id": "C-1001",
	"properties": object.union(sole_case.properties, {"within_power_list": false}),
}

team_case := {"type": "case", "id": "C-2002", "properties": {
	"procuratorate": "PROC-CITY-A", "department": "DEPT-CRIM-1", "domain": "criminal",
	"handling_mode": "team", "lead_procurator": "p-L1", "team_procurators": ["p-L1", "p-T2"],
}}

person(id, role, extra) := {"type": "user", "id": id, "properties": object.union(
	{"role": role, "roles": [role], "procuratorate": "PROC-CITY-A", "department": "DEPT-CRIM-1"},
	extra,
)}

assistant := person("asst-A1", "procurator_assistant", {})

senior_assistant := person("asst-S1", "procurator_assistant", {"senior_stage": true})

clerk := person("clerk-C1", "clerk", {})

dept_head := person("dh-A1", "department_head", {
	"roles": ["department_head", "procurator"],
	"authorizations": ["review.escalated_cases", "review.legal_documents"],
})

request(subject, action, resource, context) := {
	"subject": subject,
	"action": {"name": action},
	"resource": resource,
	"context": context,
}

decide(subject, action, resource, context) := d if {
	d := authz.decision with input as request(subject, action, resource, context)
}

codes(d) := {r.code | some r in d.reasons}

articles(d) := {r.article | some r in d.reasons}

obligation_codes(d) := {o.code | some o in d.obligations}

guided := {"supervising_procurator": "p-A1"}

# 十七(7), 十九(5), A17: a named task assigned by the handling procurator.
assigned := {"supervising_procurator": "p-A1", "assigned_by": "p-A1", "assigned_task": "collate the seizure list"}

# 十七(6), A16: the chief's approval, recorded with the approver, after the procurator spoke.
court_approval := {
	"supervising_procurator": "p-A1", "chief_approval": true, "approved_by": "chief-A",
	"approved_assistant": "asst-S1", "procurator_spoke_on_main_issues": true, "opinion_mode": "supplementary",
}
