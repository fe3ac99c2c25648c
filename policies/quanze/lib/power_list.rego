# METADATA
# title: The power list that governs a case (十六, 四十七)
# description: |
#   Power lists are data (power_lists/data.json) with their provenance. When the
#   case's procuratorate follows a list, the list decides: an action it gives the
#   procurator is within power (六); one it sends to the chief or committee goes
#   there; any other action counts as outside the list and goes to the chief (A4).
#   Without a list, the request's within_power_list / power_list_level say it.
package quanze.lib.power_list

import rego.v1

default has_list := false

has_list if data.quanze.lib.capacity.named(list_id)

list_id := data.quanze.power_lists.by_procuratorate[data.quanze.lib.capacity.resource_props.procuratorate]

list := data.quanze.power_lists.lists[list_id]

# "procurator", "chief" or "committee": where the governing list (or the request) puts the act.
level(act) := lvl if {
	has_list == true
	lvl := _list_level(act)
}

level(act) := lvl if {
	not has_list == true
	lvl := _attribute_level
}

_list_level(act) := lvl if {
	levels := {l | some l in ["procurator", "chief", "committee"]; act in list[l]}
	lvl := _first_of(levels)
}

# An action the list names twice counts at its most senior level; one it never names goes
# to the chief (A4).
_first_of(levels) := "committee" if "committee" in levels

_first_of(levels) := "chief" if {
	not "committee" in levels
	"chief" in levels
}

_first_of(levels) := "procurator" if {
	levels == {"procurator"}
}

_first_of(levels) := "chief" if count(levels) == 0

_attribute_level := "procurator" if data.quanze.lib.capacity.resource_props.within_power_list == true

_attribute_level := "committee" if {
	not data.quanze.lib.capacity.resource_props.within_power_list == true
	data.quanze.lib.capacity.resource_props.power_list_level == "committee"
}

_attribute_level := "chief" if {
	not data.quanze.lib.capacity.resource_props.within_power_list == true
	not data.quanze.lib.capacity.resource_props.power_list_level == "committee"
}

# Provenance for reasons: which list decided, and whether it has been filed with the SPP;
# empty when the request's attributes decided.
provenance := {
	"detail_zh": sprintf("依据职权清单 %s（%s，%s）", [list_id, list.issued_by, _filing_zh]),
	"detail_en": sprintf("per power list %s (%s, %s)", [list_id, list.issued_by, _filing_en]),
} if has_list == true

provenance := {} if not has_list == true

_filing_zh := "已报最高人民检察院备案" if list.filed_with_spp == true

_filing_zh := "尚未报最高人民检察院备案" if not list.filed_with_spp == true

_filing_en := "filed with the SPP" if list.filed_with_spp == true

_filing_en := "not yet filed with the SPP" if not list.filed_with_spp == true

default unfiled := false

unfiled if {
	has_list == true
	not list.filed_with_spp == true
}
