# METADATA
# title: The organisation directory (data.quanze.directory)
# description: |
#   Who holds which office where is data, not a claim in the request: each procuratorate's
#   level and parent, its chief, deputy chiefs, full-time committee members, committee,
#   department heads, quota procurators, auxiliary staff and bodies, each appointment with
#   the document that made it and the days it runs (schema/directory.schema.json).
#   An office counts on the days from `from` to `until`, inclusive, in China Standard Time.
#   The subject's acting role and every role it lists must be held here; attributes the
#   directory keeps (senior stage, department, supervised departments) come from here, and a
#   request that states them otherwise is denied, saying what the directory holds.
package quanze.lib.directory

# References to other libraries and to data are written in full: on the RVM an import alias
# builds the whole imported package on every reference (shared notes, rego-performance.md).

import rego.v1

# 8 hours in nanoseconds: China Standard Time, the time zone of the appointment documents.
_cst_offset_ns := 28800000000000

_date := time.date(time.now_ns() + _cst_offset_ns)

# METADATA
# description: Today in China Standard Time (YYYY-MM-DD), the day offices and grants are judged on.
today := sprintf("%04d-%02d-%02d", _date)

# METADATA
# description: An appointment that has begun and not ended (its `from` and `until` days inclusive).
in_force(appointment) if {
	is_object(appointment)
	appointment.from <= today
	not _ended(appointment)
}

_ended(appointment) if {
	until := object.get(appointment, "until", null)
	is_string(until)
	until < today
}

procuratorates := object.get(data.quanze.directory, "procuratorates", {})

# ------------------------------------------------------------------ levels and the hierarchy

# METADATA
# description: The level of a procuratorate (supreme, provincial, city, county); undefined if unknown.
level(pid) := procuratorates[pid].level

_parent(pid) := object.get(procuratorates, [pid, "parent"], null)

# METADATA
# description: |
#   `pid` and the procuratorates above it, nearest first, found in at most six key lookups
#   (supreme, provincial, city, county, plus branch and dispatched procuratorates); the
#   directory's loader refuses deeper or cyclic chains.
chain(pid) := [a | some a in [pid, p1, p2, p3, p4, p5, p6]; is_string(a)] if {
	p1 := _parent(pid)
	p2 := _parent(p1)
	p3 := _parent(p2)
	p4 := _parent(p3)
	p5 := _parent(p4)
	p6 := _parent(p5)
}

# METADATA
# description: The procuratorates above `pid`; empty for one the directory does not know.
ancestors(pid) := {a | some a in array.slice(chain(pid), 1, 7)}

# METADATA
# description: |
#   三十五: the procuratorate whose disciplinary committee reviews matters of `pid` — the
#   nearest at or above it that has one (the SPP and the provinces have them).
disciplinary_seat(pid) := seats[0] if {
	seats := [p | some p in chain(pid); procuratorates[p].disciplinary_committee]
	count(seats) > 0
}

# ------------------------------------------------------------------ people and offices

# The directory section of each office one person holds among many.
person_sections := {
	"procurator": "procurators",
	"deputy_chief_procurator": "deputy_chiefs",
	"full_time_committee_member": "full_time_committee_members",
	"procurator_assistant": "assistants",
	"clerk": "clerks",
	"technical_staff": "technical_staff",
	"judicial_police": "judicial_police",
}

# Bodies and units that act under an id of their own (四十, 三十五, 四十一, 三).
body_sections := {
	"committee": "committee",
	"case_management": "case_management",
	"inspection": "inspection",
	"evaluation_committee": "evaluation_committee",
	"disciplinary_committee": "disciplinary_committee",
}

# METADATA
# description: The appointment of `person` to the office `role` holds in `pid`, when in force.
office(person, role, pid) := appointment if {
	section := person_sections[role]
	appointment := procuratorates[pid][section][person]
	in_force(appointment)
}

# METADATA
# description: The person the directory names as the chief of `pid` ("none"), in force or not: for messages.
recorded_chief(pid) := object.get(procuratorates, [pid, "chief", "person"], "none")

# METADATA
# description: The person who is the chief of `pid` today.
chief_of(pid) := person if {
	appointment := procuratorates[pid].chief
	in_force(appointment)
	person := appointment.person
}

# METADATA
# description: Whether `person` is a procurator in the quota of `pid` today (四十五).
is_procurator(person, pid) if office(person, "procurator", pid)

# METADATA
# description: Whether `person` sits on the committee of `pid` today (三).
is_committee_member(person, pid) if person in committee_members(pid)

# METADATA
# description: Whether `person` heads some business department of `pid` today (二十三).
is_department_head(person, pid) if count(headed_departments(person, pid)) > 0

# METADATA
# description: The departments of `pid` that `person` heads today.
headed_departments(person, pid) := {d |
	some d, body in object.get(procuratorates[pid], "departments", {})
	in_force(body.heads[person])
}

# METADATA
# description: |
#   The roles of the person offices `person` holds in `pid` today (the chief, department heads
#   and committee members are looked up on their own). A set of roles, tested positively: the
#   RVM keeps comprehension entries bound to an undefined value.
offices(person, pid) := {role |
	some role, _ in person_sections
	office(person, role, pid)
}

# METADATA
# description: Whether `person` holds any office of a person in `pid` today (检察人员, 四十五).
is_staff(person, pid) if count(offices(person, pid)) > 0

is_staff(person, pid) if chief_of(pid) == person

is_staff(person, pid) if is_department_head(person, pid)

# METADATA
# description: Whether `person` is a deputy chief or full-time committee member of `pid` (四十六).
is_leader(person, pid) if office(person, "deputy_chief_procurator", pid)

is_leader(person, pid) if office(person, "full_time_committee_member", pid)

# METADATA
# description: |
#   三 (R03-2) "由检察长、副检察长和若干资深检察官组成，成员应当为单数，并设专职委员": the committee of
#   `pid` today has an odd number of members, the chief and every deputy chief among them, and a
#   full-time member.
committee_composition_valid(pid) if {
	members := committee_members(pid)
	count(members) % 2 == 1
	chief_of(pid) in members
	deputies := {d | some d, appointment in object.get(procuratorates[pid], "deputy_chiefs", {}); in_force(appointment)}
	count(deputies - members) == 0
	full_time := {m |
		some m, appointment in object.get(procuratorates[pid], "full_time_committee_members", {})
		in_force(appointment)
	}
	count(full_time & members) > 0
}

# METADATA
# description: The members of the committee of `pid` today.
committee_members(pid) := {m |
	some m, appointment in object.get(object.get(procuratorates[pid], "committee", {}), "members", {})
	in_force(appointment)
}

# METADATA
# description: The id of the body or unit `role` names in `pid`, while it is constituted.
body_id(role, pid) := id if {
	body := procuratorates[pid][body_sections[role]]
	in_force(body)
	id := body.id
}

# ------------------------------------------------------------------ the subject

subject_id := input.subject.id

_claims := object.get(input.subject, "properties", {})

# METADATA
# description: The procuratorate the subject says it belongs to, when the directory knows it.
home_id := pid if {
	pid := _claims.procuratorate
	is_string(pid)
	procuratorates[pid]
}

# The roles the request says the subject holds: the acting role and the listed ones.
_claimed_roles contains role if {
	role := _claims.role
	is_string(role)
}

_claimed_roles contains role if {
	some role in object.get(_claims, "roles", [])
	is_string(role)
}

# METADATA
# description: The claimed roles the directory confirms the subject holds today.
confirmed contains role if {
	some role in _claimed_roles
	office(subject_id, role, home_id)
}

confirmed contains "chief_procurator" if {
	"chief_procurator" in _claimed_roles
	chief_of(home_id) == subject_id
}

confirmed contains "committee_member" if {
	"committee_member" in _claimed_roles
	is_committee_member(subject_id, home_id)
}

confirmed contains "department_head" if {
	"department_head" in _claimed_roles
	is_department_head(subject_id, home_id)
}

confirmed contains role if {
	some role in _claimed_roles
	body_id(role, home_id) == subject_id
}

# An institution acts as itself: its id is its procuratorate's (十六, 二十一, 三十五, 四十四),
# and its level is the directory's, never the role a caller sends.
confirmed contains "procuratorate" if {
	"procuratorate" in _claimed_roles
	subject_id == home_id
}

confirmed contains role if {
	some role in _claimed_roles
	subject_id == home_id
	level(home_id) == _institution_levels[role]
}

_institution_levels := {"provincial_procuratorate": "provincial", "supreme_procuratorate": "supreme"}

# 二十一, 三十二: higher and lower are relations to the procuratorate holding the resource.
confirmed contains "higher_procuratorate" if {
	"higher_procuratorate" in _claimed_roles
	subject_id == home_id
	resource_procuratorate_ancestors := ancestors(_resource_procuratorate)
	home_id in resource_procuratorate_ancestors
}

confirmed contains "lower_procuratorate" if {
	"lower_procuratorate" in _claimed_roles
	subject_id == home_id
	home_ancestors := ancestors(home_id)
	_resource_procuratorate in home_ancestors
}

_resource_procuratorate := object.get(object.get(input.resource, "properties", {}), "procuratorate", "")

# METADATA
# description: The roles the request claims that the directory does not confirm.
unconfirmed := _claimed_roles - confirmed

# METADATA
# description: The subject's appointment in the office it acts in, for the attributes it carries.
acting_office := appointment if {
	appointment := office(subject_id, _claims.role, home_id)
}

# METADATA
# description: |
#   The subject's department: the one its office records, or for a department head the one it
#   heads (the one the request names, when it heads several).
department := d if {
	d := acting_office.department
	is_string(d)
}

department := d if {
	_claims.role == "department_head"
	headed := headed_departments(subject_id, home_id)
	d := _head_department(headed)
}

_head_department(headed) := d if {
	d := _claims.department
	d in headed
}

_head_department(headed) := d if {
	not _claims.department
	count(headed) == 1
	some d in headed
}

# METADATA
# description: 十七(6), A15: whether the acting assistant is at the senior stage (高阶段).
default senior_stage := false

senior_stage if acting_office.senior_stage == true

# METADATA
# description: A7: the departments the acting deputy chief or full-time member supervises.
supervises_departments := object.get(acting_office, "supervises_departments", [])

# METADATA
# description: The procurators the acting assistant or clerk is assigned to (十七, 十九).
assigned_to := object.get(acting_office, "assigned_to", [])

# ------------------------------------------------------------------ claims the directory contradicts

# Each is {"code", "detail_zh", "detail_en"}; rules/common denies every act on any of them,
# citing the article the message names and saying what the directory holds.

claim_problems contains {
	"code": "procuratorate_not_in_directory",
	"detail_zh": sprintf("名录中没有 %v", [pid]),
	"detail_en": sprintf("the directory has no procuratorate %v", [pid]),
} if {
	pid := object.get(_claims, "procuratorate", "")
	not home_id
}

claim_problems contains {
	"code": "office_not_held",
	"detail_zh": sprintf("名录：%s 在 %s 不担任 %s", [subject_id, home_id, concat("、", sort(unconfirmed))]),
	"detail_en": sprintf(
		"per the directory, %s does not hold %s in %s",
		[subject_id, concat(", ", sort(unconfirmed)), home_id],
	),
} if {
	home_id
	count(unconfirmed) > 0
}

claim_problems contains _contradiction(attribute, held, claimed) if {
	some [attribute, held] in _kept
	claimed := object.get(_claims, attribute, held)
	claimed != held
}

# A7: the departments a leader supervises, compared as a set.
claim_problems contains _contradiction("supervises_departments", sort(supervises_departments), claimed) if {
	_claims.role in {"deputy_chief_procurator", "full_time_committee_member"}
	claimed := _claims.supervises_departments
	not _same_members(claimed, supervises_departments)
}

# A department head acting for a department it does not head.
claim_problems contains _contradiction("department", sort(headed), claimed) if {
	_claims.role == "department_head"
	claimed := _claims.department
	headed := headed_departments(subject_id, home_id)
	count(headed) > 0
	not claimed in headed
}

_contradiction(attribute, held, claimed) := {
	"code": "claim_contradicts_directory",
	"detail_zh": sprintf("名录：%s 的 %s 为 %v，请求称 %v", [subject_id, attribute, held, claimed]),
	"detail_en": sprintf("per the directory, %s has %s %v; the request says %v", [subject_id, attribute, held, claimed]),
}

# Attributes the directory keeps for the acting office, as [attribute, value]; the request may
# omit them, and when it states them it must state them as the directory does.
_kept contains ["senior_stage", senior_stage] if _claims.role == "procurator_assistant"

_kept contains ["department", department] if _claims.role != "department_head"

_same_members(a, b) if {
	{x | some x in a} == {y | some y in b}
}
