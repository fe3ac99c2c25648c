# METADATA
# title: Capacities of the subject
# description: |
#   Who the subject is on this case. Organisational roles are claimed by the request
#   and held only when the organisation directory confirms them (lib/directory);
#   case-relative roles (inventory §1.2) are computed from the resource and are never
#   trusted from the subject.
package quanze.lib.capacity

import rego.v1

subject_props := object.get(input.subject, "properties", {})

resource_props := object.get(input.resource, "properties", {})

# METADATA
# description: The procuratorate holding the resource; "" when the request names none.
resource_procuratorate := object.get(resource_props, "procuratorate", "")

# METADATA
# description: Whether `person` is a procurator of the procuratorate holding the resource today.
procurator_of_resource(person) if data.quanze.lib.directory.is_procurator(person, resource_procuratorate)

ctx := object.get(input, "context", {})

# METADATA
# description: |
#   The role the subject acts in, when the request lists it among the subject's roles and
#   the directory confirms the subject holds it (四十五).
role := subject_props.role if {
	role_listed
	subject_props.role in data.quanze.lib.directory.confirmed
}

# METADATA
# description: |
#   The acting role must be among the roles the request lists. A request that lists no
#   roles holds only its acting role.
role_listed if {
	subject_props.role
	not subject_props.roles
}

role_listed if subject_props.role in subject_props.roles

# METADATA
# description: The procurators who handle the case: sole, or the team's lead and members (五).
handling_procurators contains resource_props.sole_procurator if {
	resource_props.handling_mode == "sole"
	is_string(resource_props.sole_procurator)
}

handling_procurators contains resource_props.lead_procurator if {
	resource_props.handling_mode == "team"
	is_string(resource_props.lead_procurator)
}

handling_procurators contains member if {
	resource_props.handling_mode == "team"
	some member in team_members
}

# METADATA
# description: The procurators a team case or team names as its members (五).
team_members := {p |
	some p in object.get(resource_props, "team_procurators", [])
	named(p)
}

_is_team if resource_props.handling_mode == "team"

_is_team if input.resource.type == "team"

# A38: "a team" of one procurator (and no lead elsewhere) is that procurator handling the case
# alone.
_team_of_one if {
	_is_team
	count(team_members) == 1
	not _lead_outside_team
}

_lead_outside_team if {
	lead := resource_props.lead_procurator
	named(lead)
	not lead in team_members
}

# METADATA
# description: Case-relative roles of the subject (inventory §1.2).
case_roles contains "sole_procurator" if {
	resource_props.handling_mode == "sole"
	resource_props.sole_procurator == input.subject.id
}

case_roles contains "sole_procurator" if {
	_team_of_one
	input.subject.id in team_members
}

# 五: the lead is one of the team's procurators.
case_roles contains "lead_procurator" if {
	resource_props.handling_mode == "team"
	resource_props.lead_procurator == input.subject.id
	input.subject.id in team_members
	not _team_of_one
}

case_roles contains "team_procurator" if {
	resource_props.handling_mode == "team"
	input.subject.id in team_members
	resource_props.lead_procurator != input.subject.id
}

case_roles contains "handling_procurator" if input.subject.id in handling_procurators

# METADATA
# description: |
#   五, A37: the team's chiefs, deputy chiefs and full-time committee members, as the directory
#   of the team's procuratorate shows — each must lead the team, so there is at most one.
team_leaders := {p |
	some p in team_members
	_is_leader(p)
}

# METADATA
# description: 五: the team's leaders other than `lead`, each of whom would have to lead it instead.
leaders_other_than(lead) := {p |
	some p in team_leaders
	p != lead
}

_is_leader(p) if data.quanze.lib.directory.chief_of(resource_props.procuratorate) == p

_is_leader(p) if data.quanze.lib.directory.is_leader(p, resource_props.procuratorate)

# METADATA
# description: |
#   五: what is wrong with a team case's composition, as {zh, en} problems: fewer than two
#   procurators, a lead who is not one of them, a chief, deputy chief or full-time member who is
#   not the lead, or two of them. Empty for a sole case and a valid team.
team_composition_problems contains {"zh": "办案组须由两名以上检察官组成", "en": "a team has two or more procurators"} if {
	resource_props.handling_mode == "team"
	count(team_members) < 2
	not _team_of_one
}

team_composition_problems contains {"zh": "主办检察官须是办案组的检察官", "en": "the lead is one of the team's procurators"} if {
	resource_props.handling_mode == "team"
	not _team_of_one
	not object.get(resource_props, "lead_procurator", "") in team_members
}

team_composition_problems contains {
	"zh": sprintf("%s 参加办案组的，应当担任主办检察官", [leader]),
	"en": sprintf("%s must lead the team (a chief, deputy chief or full-time committee member)", [leader]),
} if {
	resource_props.handling_mode == "team"
	some leader in leaders_other_than(object.get(resource_props, "lead_procurator", ""))
}

handles_case if "handling_procurator" in case_roles

# METADATA
# description: |
#   Everyone the case names as handling it, whatever its handling mode says. Used where
#   being named at all must exclude the subject (A6, no self-review), so a missing or
#   inconsistent handling_mode cannot hide the subject's involvement.
involved_procurators contains id if {
	some key in ["sole_procurator", "lead_procurator"]
	id := resource_props[key]
	is_string(id)
}

involved_procurators contains id if {
	some id in object.get(resource_props, "team_procurators", [])
	is_string(id)
}

involved_in_case if input.subject.id in involved_procurators

# METADATA
# description: A non-empty string: an id the request actually names.
named(value) if {
	is_string(value)
	value != ""
}

# METADATA
# description: The subject works in the procuratorate that holds the case.
same_procuratorate if subject_props.procuratorate == resource_props.procuratorate

# METADATA
# description: The subject's department, as the directory records it, holds the case.
same_department if data.quanze.lib.directory.department == resource_props.department

# METADATA
# description: |
#   The procurator named as guiding the subject handles this case (A11):
#   physical presence is not required, being a handling procurator is.
guided_by_handling_procurator if ctx.supervising_procurator in handling_procurators

names_supervisor if named(ctx.supervising_procurator)

# METADATA
# description: |
#   A16, R35-2: the chief's approval of `act`, recorded with who approved, and the approver is
#   the chief of the procuratorate holding the matter, or a deputy chief or full-time member
#   whose delegation covers `act` (四十六) — as the directory and the registry show.
# METADATA
# description: |
#   A16, R35-2: the chief's approval is recorded, naming who approved (whether that person may
#   approve is approval_problems').
chief_approval_recorded if {
	ctx.chief_approval == true
	named(ctx.approved_by)
}

approved_for(act) if {
	ctx.chief_approval == true
	verified_approver(ctx.approved_by, act)
}

# METADATA
# description: |
#   Whether `approver` may give the chief's approval of `act` (or refer for the chief) on this
#   resource: the chief of its procuratorate, or a delegate whose delegation covers `act` (四十六).
verified_approver(approver, _) if {
	named(approver)
	approver == data.quanze.lib.directory.chief_of(resource_props.procuratorate)
}

verified_approver(approver, act) if {
	named(approver)
	data.quanze.lib.delegation.person_covers(approver, act, resource_props.procuratorate)
}

# METADATA
# description: |
#   An approval the request records but the directory does not bear out, as reasons ({code,
#   detail}, the first to be given the approval's own article): the approver is not the chief,
#   and holds no delegation covering `act` (四十六).
approval_problems(act) := {
	{
		"code": "approver_not_chief",
		"detail_zh": sprintf("名录：%s 的检察长为 %s", [pid, chief]),
		"detail_en": sprintf("per the directory the chief of %s is %s", [pid, chief]),
	},
	{
		"code": "approver_holds_no_delegation",
		"article": "四十六",
		"item": 0,
		"detail_zh": sprintf("登记簿中 %s 无涵盖 %s 的委托", [approver, act]),
		"detail_en": sprintf("the registry shows %s holding no delegation covering %s", [approver, act]),
	},
} if {
	ctx.chief_approval == true
	approver := ctx.approved_by
	named(approver)
	not verified_approver(approver, act)
	pid := resource_props.procuratorate
	chief := data.quanze.lib.directory.recorded_chief(pid)
}

# METADATA
# description: 四十六: the approval of `act` is a delegate's, not the chief's own.
approved_by_delegate(act) if {
	approved_for(act)
	not ctx.approved_by == data.quanze.lib.directory.chief_of(resource_props.procuratorate)
}

# 四十五: procurator status is the directory's quota, not a role the request lists.
holds_procurator_status if data.quanze.lib.directory.is_procurator(input.subject.id, data.quanze.lib.directory.home_id)

# §1.3, 四十五: chiefs, deputy chiefs and full-time committee members are procurators;
# a department head is one when holding procurator status.
procurator_roles := {"procurator", "chief_procurator", "deputy_chief_procurator", "full_time_committee_member"}

acts_as_procurator if role in procurator_roles

acts_as_procurator if {
	role == "department_head"
	holds_procurator_status
}

assigned_by_handling_procurator if ctx.assigned_by in handling_procurators

# METADATA
# description: |
#   The subject handles the case as its sole or lead procurator, in whatever office: the one
#   who decides within power or proposes the opinion, and its author (六, 二十九, A24).
decides_as_handler if {
	acts_as_procurator
	some case_role in {"sole_procurator", "lead_procurator"}
	case_role in case_roles
}

# METADATA
# description: |
#   二十九, 三十二: the request says the procurators who reported the case concealed or
#   distorted facts, or through gross negligence left out important facts, evidence or
#   circumstances (context.reporting_fault); they then answer for the decision it led to.
reporting_fault if ctx.reporting_fault in {"concealed_facts", "distorted_facts", "omitted_important_facts"}
