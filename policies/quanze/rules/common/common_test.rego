package quanze.rules.common_test

import rego.v1

import data.quanze.testlib as t

# 四: staff act on the cases of their own procuratorate (本院).
test_assistant_acts_on_other_procuratorate_case_denied if {
	other := {"type": "case", "id": "C-9009", "properties": object.union(t.sole_case.properties, {"procuratorate": "PROC-CITY-B"})}
	d := t.decide(t.assistant, "case.interrogate_suspect", other, t.guided)
	d.decision == false
	"procuratorate_mismatch" in t.codes(d)
	some r in d.reasons
	r.article == "四"
}

# 四十五: the acting role must be one the subject holds.
test_subject_claims_role_not_held_denied if {
	pretender := t.person("clerk-C2", "procurator_assistant", {"roles": ["clerk"]})
	d := t.decide(pretender, "case.interrogate_suspect", t.sole_case, t.guided)
	d.decision == false
	"role_not_held" in t.codes(d)
}

# 四十五: a subject listing no roles holds only the role it acts in.
test_subject_without_roles_list_acts_in_its_role_allowed if {
	subject := {"type": "user", "id": "clerk-C3", "properties": {"role": "clerk", "procuratorate": "PROC-CITY-A"}}
	d := t.decide(subject, "record.take", t.sole_case, t.guided)
	d.decision == true
}
