package quanze.rules.common_test

import rego.v1

import data.quanze.testlib as t

# 四: staff act on the cases of their own procuratorate (本院).
test_assistant_acts_on_other_procuratorate_case_denied if {
	other := {
		"type": "case",
		"id": "C-9009",
		"properties": object.union(t.sole_case.properties, {"procuratorate": "PROC-CITY-B"}),
	}
	d := t.decide(t.assistant, "case.interrogate_suspect", other, t.guided)
	d.decision == false
	"procuratorate_mismatch" in t.codes(d)
	some r in d.reasons
	r.article == "四"
}

# 四十五: the acting role must be one the request lists for the subject.
test_subject_acts_in_role_it_does_not_list_denied if {
	pretender := t.person("clerk-C1", "procurator_assistant", {"roles": ["clerk"]})
	d := t.decide(pretender, "case.interrogate_suspect", t.sole_case, t.guided)
	d.decision == false
	"role_not_held" in t.codes(d)
}

# 四十五: the acting role must be one the directory shows the subject holding, whatever the
# request lists; the reason says what the directory holds.
test_subject_claims_office_the_directory_does_not_show_denied if {
	pretender := t.person("clerk-C1", "procurator_assistant", {"roles": ["procurator_assistant", "clerk"]})
	d := t.decide(pretender, "case.interrogate_suspect", t.sole_case, t.guided)
	d.decision == false
	some r in d.reasons
	r.code == "office_not_held"
	r.article == "四十五"
	contains(r.message_en, "clerk-C1 does not hold procurator_assistant in PROC-CITY-A")
}

# A claim the directory contradicts denies every act, even one that does not depend on it.
test_contradicted_claim_denies_every_act if {
	claims := t.person("asst-A1", "procurator_assistant", {"senior_stage": true})
	d := t.decide(claims, "case.interrogate_suspect", t.sole_case, t.guided)
	d.decision == false
	t.codes(d) == {"claim_contradicts_directory"}
	some r in d.reasons
	contains(r.message_en, "asst-A1 has senior_stage false; the request says true")
}

# 五: whoever the case names as handling it must be a procurator in the quota of its
# procuratorate: an assistant named as sole procurator guides no one.
test_case_handled_by_someone_outside_the_quota_denied if {
	case := {
		"type": "case",
		"id": "C-9",
		"properties": object.union(t.sole_case.properties, {"sole_procurator": "asst-S1"}),
	}
	d := t.decide(t.assistant, "case.interrogate_suspect", case, {"supervising_procurator": "asst-S1"})
	d.decision == false
	"handling_procurator_not_in_quota" in t.codes(d)
	some r in d.reasons
	r.article == "五"
	contains(r.message_en, "asst-S1 is not a procurator in the quota of PROC-CITY-A")
}

# 三十五: a provincial disciplinary committee reviews a city procuratorate's matter; the
# same-procuratorate rule does not stand in its way.
test_provincial_disciplinary_committee_reviews_city_matter_allowed if {
	committee := {
		"type": "body",
		"id": "dc-PROV-A",
		"properties": {"role": "disciplinary_committee", "procuratorate": "PROC-PROV-A"},
	}
	matter := {
		"type": "discipline_decision",
		"id": "DISC-1",
		"properties": {"procuratorate": "PROC-CITY-A", "subject_of_decision": "p-A1"},
	}
	d := t.decide(
		committee,
		"disciplinary.review_opinion",
		matter,
		{"review_opinion": "gross_negligence", "chief_approval": true, "approved_by": "chief-A"},
	)
	d.decision == true
}

# 四十五: a subject listing no roles holds only the role it acts in.
test_subject_without_roles_list_acts_in_its_role_allowed if {
	subject := {"type": "user", "id": "clerk-C1", "properties": {"role": "clerk", "procuratorate": "PROC-CITY-A"}}
	d := t.decide(subject, "record.take", t.sole_case, t.guided)
	d.decision == true
}

# 四: every resource says which procuratorate it belongs to; one that does not is refused rather
# than waved past the same-procuratorate check.
test_resource_without_procuratorate_denied if {
	record := {"type": "procurator_quota", "id": "Q-1", "properties": {}}
	d := t.decide(t.dept_head, "staff.assess", record, {})
	"resource_procuratorate_required" in t.codes(d)
}

# 四十五: the staff member a record concerns must be on the staff of its procuratorate.
test_record_about_another_procuratorates_staff_denied if {
	record := {
		"type": "discipline_decision",
		"id": "D-1",
		"properties": {"procuratorate": "PROC-CITY-A", "subject_of_decision": "p-P1"},
	}
	d := t.decide(t.person("p-X9", "procurator", {}), "discipline.appeal", record, {})
	"staff_member_not_of_procuratorate" in t.codes(d)
}

# 五: a team's own acts on a case whose team breaks 五 — a deputy chief who does not lead it, a
# lead outside it, or one procurator treated as a team — are denied, saying what is wrong.
test_team_composed_against_article_five_denied if {
	hidden := {
		"type": "case",
		"id": "C-2",
		"properties": object.union(
			t.team_case.properties,
			{"team_procurators": ["p-L1", "p-T2", "dep-D2"], "within_power_list": true},
		),
	}
	d := t.decide(t.person("p-L1", "procurator", {}), "team.direct", hidden, {})
	t.codes(d) == {"team_composition_invalid"}
	some r in d.reasons
	contains(r.message_en, "dep-D2 must lead the team")
	member := t.decide(t.person("p-T2", "procurator", {}), "case.review_materials", hidden, {})
	t.codes(member) == {"team_composition_invalid"}
	assistant := t.decide(t.assistant, "evidence.collect", hidden, {"supervising_procurator": "p-L1"})
	assistant.decision == true
}

# A38: a "team" of one procurator is that procurator handling the case alone.
test_team_of_one_procurator_treated_as_sole if {
	one := {
		"type": "case",
		"id": "C-3",
		"properties": object.union(t.team_case.properties, {"team_procurators": ["p-L1"], "within_power_list": true}),
	}
	d := t.decide(t.person("p-L1", "procurator", {}), "decision.prosecute", one, {})
	d.decision == true
	{"subject_id": "p-L1", "capacity": "sole_procurator", "responsibility": "judicial", "article": "二十九"} in d.accountable
}

# 三十五: matters go to the disciplinary committee of the nearest procuratorate at or above them
# that has one; another province's committee, or a city's claimed committee, is not competent.
test_disciplinary_committee_of_another_province_not_competent if {
	other := {
		"type": "body",
		"id": "dc-PROV-B",
		"properties": {"role": "disciplinary_committee", "procuratorate": "PROC-PROV-B"},
	}
	d := t.decide(
		other,
		"disciplinary.review_opinion",
		_discipline_matter,
		object.union(_chief_approval, {"review_opinion": "no_violation"}),
	)
	d.decision == false
	t.codes(d) == {"disciplinary_committee_not_competent"}
	some r in d.reasons
	contains(r.message_en, "matters of PROC-CITY-A go to the disciplinary committee of PROC-PROV-A")
	city := {
		"type": "body",
		"id": "dc-CITY",
		"properties": {"role": "disciplinary_committee", "procuratorate": "PROC-CITY-A"},
	}
	"office_not_held" in t.codes(
		t.decide(city, "disciplinary.review_opinion", _discipline_matter, {"review_opinion": "no_violation"}),
	)
}

# An accountability matter of PROC-CITY-A examining p-A1's conduct, approved by its chief.
_discipline_matter := {
	"type": "discipline_decision",
	"id": "DISC-1",
	"properties": {"procuratorate": "PROC-CITY-A", "subject_of_decision": "p-A1"},
}

_chief_approval := {"chief_approval": true, "approved_by": "chief-A"}
