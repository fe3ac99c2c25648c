# METADATA
# title: Conditions common to every act on a case
# description: |
#   Unless a rule says otherwise, a subject acting on a case must act in a role
#   they hold (四十五) and belong to the procuratorate that holds the case (四:
#   the chief leads the case work of 本院, this procuratorate).
package quanze.rules.common

import rego.v1

import data.quanze.catalog
import data.quanze.lib.capacity
import data.quanze.lib.scope

# Conditions that do not depend on the action come before `some act`, so a whole-catalog
# evaluation iterates the catalog only when they hold.
denials contains {"action": act, "code": "role_not_held"} if {
	not capacity.role_held
	capacity.subject_props.role
	some act in scope.actions
}

denials contains {"action": act, "code": "procuratorate_mismatch"} if {
	_bound_to_a_procuratorate
	not capacity.same_procuratorate
	some act in scope.actions

	# 二十一: a higher procuratorate acts on a lower one's cases by directive.
	catalog.actions[act].group != "inter_procuratorate"
}

# Cases, their documents and teams always belong to one procuratorate; any other
# resource does when it says so.
_bound_to_a_procuratorate if input.resource.type in {"case", "legal_document", "team"}

_bound_to_a_procuratorate if capacity.resource_props.procuratorate
