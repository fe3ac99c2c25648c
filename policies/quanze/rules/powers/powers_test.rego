package quanze.rules.powers_test

import rego.v1

import data.quanze.rules.powers
import data.quanze.testlib as t

procurator := t.person("p-A1", "procurator", {})

member := t.person("p-T2", "procurator", {})

outsider := t.person("p-X9", "procurator", {})

case_in(domain) := {"type": "case", "id": "C-8", "properties": object.union(t.sole_case.properties, {"domain": domain})}

# 十四(1)–(9): the handling procurator exercises every listed power, citing its item.
# (R14-0, R14-1, R14-2, R14-3, R14-4, R14-5, R14-6, R14-7, R14-8, R14-9)
test_handling_procurator_each_power_allowed if {
	criminal_case_powers := object.remove(powers.procurator_powers, ["consultation.preside"])
	every act, item in criminal_case_powers {
		d := t.decide(procurator, act, t.sole_case, {})
		d.decision == true
		some r in d.reasons
		r.code == "procurator_power"
		r.article == "十四"
		r.item == item
	}
}

# A45: a team member who is not the lead exercises the 十四 powers too.
test_team_member_exercises_powers_allowed if {
	d := t.decide(member, "case.interrogate_suspect", t.team_case, {})
	d.decision == true
	d.accountable == {{
		"subject_id": "p-T2",
		"capacity": "handling_procurator",
		"responsibility": "judicial",
		"article": "二十九",
	}}
}

# 十四 (I): not on a case the procurator does not handle. (R14-0)
test_procurator_of_another_case_interrogates_denied if {
	d := t.decide(outsider, "case.interrogate_suspect", t.sole_case, {})
	d.decision == false
	t.codes(d) == {"procurator_not_handling_case"}
}

# §1.3: a chief handling a case as its sole procurator exercises the powers (十).
test_chief_handling_case_appears_in_court_allowed if {
	chief := t.person("chief-A", "chief_procurator", {"roles": ["chief_procurator", "procurator"]})
	own := {
		"type": "case",
		"id": "C-9",
		"properties": object.union(t.sole_case.properties, {"sole_procurator": "chief-A"}),
	}
	d := t.decide(chief, "court.appear", own, {})
	d.decision == true
}

# 四十五: a department head without procurator status does not exercise procurator powers. (R23-0, R45-1)
test_department_head_without_procurator_status_not_granted if {
	head := t.person("dh-C1", "department_head", {})
	own := {"type": "case", "id": "C-9", "properties": object.union(t.sole_case.properties, {"sole_procurator": "dh-C1"})}
	d := t.decide(head, "case.review_materials", own, {})
	d.decision == false
	t.codes(d) == {"handling_procurator_not_in_quota", "action_not_granted"}
}

# R14-11 (I): the procurator may do what they guide assistants in.
test_handling_procurator_drafts_document_allowed if {
	d := t.decide(procurator, "document.draft", t.sole_case, {})
	t.codes(d) == {"procurator_guided_task"}
}

# A44: criminal powers are not inferred into a civil case.
test_interrogation_in_civil_case_denied if {
	d := t.decide(procurator, "case.interrogate_suspect", case_in("civil"), {})
	d.decision == false
	t.codes(d) == {"criminal_power_outside_criminal_domain"}
	review := t.decide(procurator, "case.review_materials", case_in("civil"), {})
	review.decision == true
}

# 十四(6): consultations belong to public-interest cases; hearings to any.
test_consultation_only_in_public_interest_case if {
	t.decide(procurator, "consultation.preside", case_in("public_interest"), {}).decision == true
	d := t.decide(procurator, "consultation.preside", t.sole_case, {})
	t.codes(d) == {"consultation_public_interest_only"}
	t.decide(procurator, "hearing.preside", case_in("civil"), {}).decision == true
}

entrustment := {
	"document": "A检委托〔2024〕21号", "kind": "entrustment", "grantor": "chief-A", "procuratorate": "PROC-CITY-A",
	"scope": ["task.entrusted"], "task": "attend the coordination meeting", "valid_from": "2024-07-04",
}

# 十四(10), A10: another matter needs the chief's entrustment of the task to the procurator, in
# the registry of grants.
test_entrusted_task_with_registered_entrustment_allowed if {
	ctx := {"chief_entrustment": {"from": "chief-A", "to": "p-A1", "task": "attend the coordination meeting"}}
	d := t.decide(
		procurator,
		"task.entrusted",
		t.sole_case,
		ctx,
	) with data.quanze.directory.grants as {"p-A1": [entrustment]}
	d.decision == true
	some r in d.reasons
	r.item == 10
}

# 十四(10): an entrustment the registry does not hold is a claim it contradicts.
test_entrusted_task_not_in_registry_denied if {
	ctx := {"chief_entrustment": {"from": "chief-A", "to": "p-A1", "task": "attend the coordination meeting"}}
	d := t.decide(procurator, "task.entrusted", t.sole_case, ctx) with data.quanze.directory.grants as {}
	t.codes(d) == {"chief_entrustment_required", "entrustment_not_in_registry"}
	other_task := {"chief_entrustment": {"from": "chief-A", "to": "p-A1", "task": "something else"}}
	d2 := t.decide(
		procurator,
		"task.entrusted",
		t.sole_case,
		other_task,
	) with data.quanze.directory.grants as {"p-A1": [entrustment]}
	t.codes(d2) == {"chief_entrustment_required", "entrustment_not_in_registry"}
}

# 十四(10), registry off: the entrustment the request carries counts when the chief gave it.
test_entrusted_task_registry_off_checked_against_the_directory if {
	ctx := {"chief_entrustment": {"from": "chief-A", "to": "p-A1", "task": "attend"}}
	d := t.decide(procurator, "task.entrusted", t.sole_case, ctx) with data.quanze.directory.delegation_registry as false
	d.decision == true
	forged := {"chief_entrustment": {"from": "dep-D1", "to": "p-A1", "task": "attend"}}
	d2 := t.decide(
		procurator,
		"task.entrusted",
		t.sole_case,
		forged,
	) with data.quanze.directory.delegation_registry as false
	t.codes(d2) == {"chief_entrustment_required"}
}

# 十四(10) "其他办案事项", A17: an entrustment naming a decision confers nothing — deciding is routed.
# The procurator answers for an entrusted matter (二十九).
test_entrusted_task_naming_a_decision_denied if {
	task := "决定对本案提起公诉"
	ctx := {"chief_entrustment": {"from": "chief-A", "to": "p-A1", "task": task}}
	grants := {"p-A1": [object.union(entrustment, {"task": task})]}
	d := t.decide(procurator, "task.entrusted", t.sole_case, ctx) with data.quanze.directory.grants as grants
	d.decision == false
	t.codes(d) == {"task_names_reserved_power"}
	allowed := t.decide(
		procurator,
		"task.entrusted",
		t.sole_case,
		{"chief_entrustment": {"from": "chief-A", "to": "p-A1", "task": "attend the coordination meeting"}},
	) with data.quanze.directory.grants as {"p-A1": [entrustment]}
	allowed.accountable == {{
		"subject_id": "p-A1",
		"capacity": "procurator",
		"responsibility": "judicial",
		"article": "二十九",
	}}
}

test_entrusted_task_without_or_for_someone_else_denied if {
	grants := {"p-A1": [entrustment]}
	t.codes(t.decide(procurator, "task.entrusted", t.sole_case, {})) == {"chief_entrustment_required"}
	other := {"chief_entrustment": {"from": "chief-A", "to": "p-B2", "task": "attend the coordination meeting"}}
	for_other := t.decide(procurator, "task.entrusted", t.sole_case, other) with data.quanze.directory.grants as grants
	t.codes(for_other) == {"chief_entrustment_required"}
	unnamed := {"chief_entrustment": {"from": "chief-A", "to": "p-A1", "task": ""}}
	no_task := t.decide(procurator, "task.entrusted", t.sole_case, unnamed) with data.quanze.directory.grants as grants
	t.codes(no_task) == {"chief_entrustment_required"}
}

# 十五(1)(2): the lead directs the team and manages its auxiliaries; a member does not. (R15-1, R15-2)
test_lead_directs_team_allowed if {
	lead := t.person("p-L1", "procurator", {})
	every act, item in powers.lead_duties {
		d := t.decide(lead, act, t.team_case, {})
		d.decision == true
		some r in d.reasons
		r.article == "十五"
		r.item == item
	}
}

test_team_member_directs_team_denied if {
	d := t.decide(member, "team.direct", t.team_case, {})
	d.decision == false
	t.codes(d) == {"only_lead_manages_team"}
}

# 十六, A32: a provincial procuratorate makes the list; until filed, filing is outstanding. (R16-1)
test_provincial_procuratorate_formulates_power_list_allowed if {
	province := {
		"type": "institution",
		"id": "PROC-PROV-A",
		"properties": {"role": "provincial_procuratorate", "procuratorate": "PROC-PROV-A"},
	}
	list := {"type": "power_list", "id": "PL-1", "properties": {"procuratorate": "PROC-PROV-A"}}
	d := t.decide(province, "power_list.formulate", list, {})
	d.decision == true
	t.obligation_codes(d) == {"file_with_spp"}
	filed := t.decide(province, "power_list.formulate", list, {"filed_with_spp": true})
	count(filed.obligations) == 0
	t.decide(province, "power_list.file", list, {}).decision == true
}

# R16-2, A31: a city procuratorate does not make the procurator power list.
test_city_procuratorate_formulates_power_list_denied if {
	city := {
		"type": "institution",
		"id": "PROC-CITY-A",
		"properties": {"role": "procuratorate", "procuratorate": "PROC-CITY-A"},
	}
	list := {"type": "power_list", "id": "PL-2", "properties": {"procuratorate": "PROC-CITY-A"}}
	d := t.decide(city, "power_list.formulate", list, {})
	d.decision == false
	t.codes(d) == {"power_list_provincial_only"}
}

# 十六 "制定辖区内人民检察院检察官职权清单": a province makes lists for itself and the procuratorates
# below it, not for another province's.
test_power_list_only_within_the_province if {
	province := {
		"type": "institution",
		"id": "PROC-PROV-A",
		"properties": {"role": "provincial_procuratorate", "procuratorate": "PROC-PROV-A"},
	}
	own := {"type": "power_list", "id": "PL-1", "properties": {"procuratorate": "PROC-COUNTY-A1"}}
	t.decide(province, "power_list.formulate", own, {"filed_with_spp": true}).decision == true
	other := {"type": "power_list", "id": "PL-2", "properties": {"procuratorate": "PROC-CITY-C"}}
	t.codes(t.decide(province, "power_list.formulate", other, {})) == {"power_list_outside_jurisdiction"}
	spp := {"type": "power_list", "id": "PL-3", "properties": {"procuratorate": "SPP"}}
	t.codes(t.decide(province, "power_list.file", spp, {})) == {"power_list_outside_jurisdiction"}
}
