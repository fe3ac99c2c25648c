package quanze.lib.directory_test

import rego.v1

import data.quanze.lib.directory
import data.quanze.testlib as t

at(subject) := t.request(subject, "case.review_materials", t.sole_case, {})

problems_of(subject) := {p.code | some p in ps} if {
	ps := directory.claim_problems with input as at(subject)
}

# Offices count on the days from `from` to `until`, inclusive.
test_appointment_in_force_only_within_its_days if {
	directory.in_force({"document": "d", "from": "2020-01-01"})
	directory.in_force({"document": "d", "from": "2020-01-01", "until": directory.today})
	not directory.in_force({"document": "d", "from": "2020-01-01", "until": "2024-06-30"})
	not directory.in_force({"document": "d", "from": "2099-01-01"})
}

test_today_is_a_calendar_day if regex.match(`^\d{4}-\d{2}-\d{2}$`, directory.today)

# 四十五: the subject's claimed roles are confirmed by the directory, one by one.
test_chief_holds_chief_procurator_and_committee_member if {
	chief := t.person("chief-A", "chief_procurator", {"roles": ["chief_procurator", "procurator", "committee_member"]})
	confirmed := directory.confirmed with input as at(chief)
	confirmed == {"chief_procurator", "procurator", "committee_member"}
	problems_of(chief) == set()
}

# 四十五: a role the directory does not show is not held, whoever claims it.
test_claimed_chief_office_not_held if {
	pretender := t.person("p-X9", "chief_procurator", {"roles": ["chief_procurator", "procurator"]})
	problems_of(pretender) == {"office_not_held"}
	v1 := directory.confirmed with input as at(pretender)
	v1 == {"procurator"}
}

# An appointment that has ended (p-R1 left the quota on 2024-06-30) confers nothing.
test_ended_appointment_not_held if {
	problems_of(t.person("p-R1", "procurator", {})) == {"office_not_held"}
}

# A procuratorate the directory does not know cannot vouch for anyone.
test_unknown_procuratorate if {
	problems_of(t.person("p-A1", "procurator", {"procuratorate": "PROC-NOWHERE"})) == {"procuratorate_not_in_directory"}
}

# 十六: the level is the directory's: a city procuratorate is no provincial one, whatever it sends.
test_institution_level_from_the_directory if {
	city := {
		"type": "institution",
		"id": "PROC-CITY-A",
		"properties": {"role": "provincial_procuratorate", "procuratorate": "PROC-CITY-A"},
	}
	problems_of(city) == {"office_not_held"}
	province := {
		"type": "institution",
		"id": "PROC-PROV-A",
		"properties": {"role": "provincial_procuratorate", "procuratorate": "PROC-PROV-A"},
	}
	problems_of(province) == set()
}

# A body acts under its own id in its own procuratorate.
test_body_acts_under_its_id if {
	problems_of({
		"type": "body",
		"id": "ctte-A",
		"properties": {"role": "committee", "procuratorate": "PROC-CITY-A"},
	}) == set()
	problems_of({
		"type": "body",
		"id": "ctte-X",
		"properties": {"role": "committee", "procuratorate": "PROC-CITY-A"},
	}) == {"office_not_held"}
}

# A15, 十七(6): the senior stage is the directory's; a request may omit it, not contradict it.
test_senior_stage_from_the_directory if {
	v2 := directory.senior_stage with input as at(t.senior_assistant)
	v2 == true
	v3 := directory.senior_stage with input as at(t.person("asst-S1", "procurator_assistant", {}))
	v3 == true
	problems_of(t.person("asst-A1", "procurator_assistant", {"senior_stage": true})) == {"claim_contradicts_directory"}
}

# 二十三: a department head's department is the one it heads; claiming another contradicts it.
test_department_head_department_from_the_directory if {
	v4 := directory.department with input as at({
		"type": "user",
		"id": "dh-B1",
		"properties": {"role": "department_head", "procuratorate": "PROC-CITY-A"},
	})
	v4 == "DEPT-CIVIL-1"
	problems_of(
		t.person("dh-A1", "department_head", {"roles": ["department_head"], "department": "DEPT-CIVIL-1"}),
	) == {"claim_contradicts_directory"}
}

# A7: a leader's supervised departments are the directory's, compared as a set.
test_supervised_departments_from_the_directory if {
	deputy := t.person("dep-D1", "deputy_chief_procurator", {"supervises_departments": ["DEPT-CRIM-1"]})
	problems_of(deputy) == set()
	v5 := directory.supervises_departments with input as at(deputy)
	v5 == ["DEPT-CRIM-1"]
	problems_of(
		t.person("dep-D1", "deputy_chief_procurator", {"supervises_departments": ["DEPT-CIVIL-1"]}),
	) == {"claim_contradicts_directory"}
}

# 二十一: ancestors are found by parent lookups, nearest first in the chain.
test_chain_and_ancestors if {
	directory.chain("PROC-COUNTY-A1") == ["PROC-COUNTY-A1", "PROC-CITY-A", "PROC-PROV-A", "SPP"]
	directory.ancestors("PROC-COUNTY-A1") == {"PROC-CITY-A", "PROC-PROV-A", "SPP"}
	directory.ancestors("PROC-NOWHERE") == set()
}

# 三十五: matters go to the nearest disciplinary committee at or above them.
test_disciplinary_seat_is_the_nearest_committee if {
	directory.disciplinary_seat("PROC-COUNTY-A1") == "PROC-PROV-A"
	directory.disciplinary_seat("PROC-PROV-B") == "PROC-PROV-B"
	directory.disciplinary_seat("SPP") == "SPP"
	not directory.disciplinary_seat("PROC-NOWHERE")
}

# The chief of a procuratorate is the person in office today; none for a vacant office.
test_chief_of if {
	directory.chief_of("PROC-CITY-A") == "chief-A"
	not directory.chief_of("PROC-CITY-C")
}

# 二十一, 三十二: "higher" and "lower" are relations to the procuratorate holding the resource, per
# the directory's parents: PROC-PROV-A is above PROC-CITY-A's cases, PROC-CITY-B is not.
test_higher_and_lower_procuratorate_from_the_directory if {
	city_case := {"type": "case", "id": "C-1", "properties": {"procuratorate": "PROC-CITY-A"}}
	province := {
		"type": "institution",
		"id": "PROC-PROV-A",
		"properties": {"role": "higher_procuratorate", "procuratorate": "PROC-PROV-A"},
	}
	"higher_procuratorate" in directory.confirmed with input as {"subject": province, "resource": city_case}
	sibling := {
		"type": "institution",
		"id": "PROC-CITY-B",
		"properties": {"role": "higher_procuratorate", "procuratorate": "PROC-CITY-B"},
	}
	not "higher_procuratorate" in directory.confirmed with input as {"subject": sibling, "resource": city_case}
	county := {
		"type": "institution",
		"id": "PROC-COUNTY-A1",
		"properties": {"role": "lower_procuratorate", "procuratorate": "PROC-COUNTY-A1"},
	}
	"lower_procuratorate" in directory.confirmed with input as {"subject": county, "resource": city_case}
	directory.level("PROC-PROV-A") == "provincial"
	not directory.level("PROC-NOWHERE")
}
