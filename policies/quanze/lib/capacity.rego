# METADATA
# title: Capacities of the subject
# description: |
#   Who the subject is on this case. Organisational roles come from the
#   subject; case-relative roles (inventory §1.2) are computed from the
#   resource and are never trusted from the subject.
package quanze.lib.capacity

import rego.v1

subject_props := object.get(input.subject, "properties", {})

resource_props := object.get(input.resource, "properties", {})

ctx := object.get(input, "context", {})

# METADATA
# description: The role the subject acts in, when it is one the subject holds (四十五).
role := subject_props.role if role_held

# METADATA
# description: |
#   The acting role must be among the roles held. A request that lists no
#   roles holds only its acting role.
role_held if {
	subject_props.role
	not subject_props.roles
}

role_held if subject_props.role in subject_props.roles

is_case if input.resource.type == "case"

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
	some member in object.get(resource_props, "team_procurators", [])
}

# METADATA
# description: Case-relative roles of the subject (inventory §1.2).
case_roles contains "sole_procurator" if {
	resource_props.handling_mode == "sole"
	resource_props.sole_procurator == input.subject.id
}

case_roles contains "lead_procurator" if {
	resource_props.handling_mode == "team"
	resource_props.lead_procurator == input.subject.id
}

case_roles contains "team_procurator" if {
	resource_props.handling_mode == "team"
	input.subject.id in object.get(resource_props, "team_procurators", [])
	resource_props.lead_procurator != input.subject.id
}

case_roles contains "handling_procurator" if input.subject.id in handling_procurators

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

same_department if subject_props.department == resource_props.department

# METADATA
# description: |
#   The procurator named as guiding the subject handles this case (A11):
#   physical presence is not required, being a handling procurator is.
guided_by_handling_procurator if ctx.supervising_procurator in handling_procurators

names_supervisor if named(ctx.supervising_procurator)

# A16, R35-2: the chief's approval, recorded with who approved (the chief or a 四十六 delegate).
chief_approval_recorded if {
	ctx.chief_approval == true
	named(ctx.approved_by)
}

holds_procurator_status if "procurator" in object.get(subject_props, "roles", [])

# §1.3, 四十五: chiefs, deputy chiefs and full-time committee members are procurators;
# a department head is one when holding procurator status.
procurator_roles := {"procurator", "chief_procurator", "deputy_chief_procurator", "full_time_committee_member"}

acts_as_procurator if role in procurator_roles

acts_as_procurator if {
	role == "department_head"
	holds_procurator_status
}

assigned_by_handling_procurator if ctx.assigned_by in handling_procurators
