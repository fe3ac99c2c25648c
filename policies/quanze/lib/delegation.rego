# METADATA
# title: Delegations of the chief's powers (四十六)
# description: |
#   "本意见所列检察长行使的职权，检察长可以委托副检察长、检察委员会专职委员行使".
#   A delegation is a record on its holder (A8):
#   {from, scope[], case_scope?, valid_from?, valid_until?}. It counts only when
#   the holder acts as a deputy chief or full-time committee member, it names the
#   chief who gave it, its scope lists the action (or "*" for every chief power),
#   the case is in its case scope when one is given, and now is inside its
#   validity window (RFC 3339 times; an unreadable time voids it).
package quanze.lib.delegation

# References to quanze.lib.capacity are written in full: with an import alias, the
# tree-walking Engine lost the alias inside these functions once another package had read
# a rule of this one (e.g. holder_roles), and covers() turned false.

import rego.v1

# 四十六: the closed list of who may hold a delegation.
holder_roles := {"deputy_chief_procurator", "full_time_committee_member"}

# The subject's delegations that let them exercise the chief's power over `act` here.
covering(act) := {d |
	data.quanze.lib.capacity.role in holder_roles
	some d in object.get(data.quanze.lib.capacity.subject_props, "delegations", [])
	_valid(d)
	_covers(d, act)
}

covers(act) if count(covering(act)) > 0

_valid(d) if {
	data.quanze.lib.capacity.named(d.from)
	_in_case_scope(d)
	_started(d)
	_not_expired(d)
}

_covers(d, act) if act in d.scope

_covers(d, _) if "*" in d.scope

_in_case_scope(d) if not d.case_scope

_in_case_scope(d) if input.resource.id in d.case_scope

_started(d) if not d.valid_from

_started(d) if {
	_rfc3339(d.valid_from)
	time.parse_rfc3339_ns(d.valid_from) <= time.now_ns()
}

_not_expired(d) if not d.valid_until

_not_expired(d) if {
	_rfc3339(d.valid_until)
	time.now_ns() < time.parse_rfc3339_ns(d.valid_until)
}

# Checked before parsing: regorus raises on a malformed time instead of leaving it undefined.
_rfc3339(value) if {
	is_string(value)
	regex.match(`^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$`, value)
}
