# METADATA
# title: Reserved matters
# description: |
#   Whether a case is a matter for the committee (十一) or the chief (十三), or
#   outside the procurator power list (六, 十六, 四十七), from the case's own
#   attributes (inventory §4.1). Action-dependent triggers (十一(3) protest,
#   十一(4)/(5) requests, 十三(6) replies) belong to the routing of decisions.
#   An absent attribute is false (A36: flags are set by a person, not computed).
package quanze.lib.matters

import rego.v1

props := data.quanze.lib.capacity.resource_props

# 十一(1), (2), (4), (5), (6).
committee_triggers contains 1 if props.involves_national_security == true

committee_triggers contains 1 if props.national_interest == "major"

committee_triggers contains 1 if props.social_stability_impact == "serious"

committee_triggers contains 2 if props.requires_spp_approval == true

committee_triggers contains 4 if props.request_to_higher_planned == true

committee_triggers contains 5 if props.reconsideration_of_committee_decision == true

committee_triggers contains 6 if props.rules_require_committee == true

# 十三(1)–(7); A1: where 十一 also holds, the committee prevails (routing decides).
chief_triggers contains 1 if props.involves_national_security == true

chief_triggers contains 1 if props.national_interest == "involved"

chief_triggers contains 1 if props.involves_public_interest == true

chief_triggers contains 1 if props.social_stability_impact == "affects"

# 十三(2) ends with "等": other sensitive categories are set by a person as other_sensitive (A35).
chief_triggers contains 2 if props.sensitive_category in {"national_defense", "diplomacy", "other_sensitive"}

# A2: "重大的" qualifies all three crime types.
chief_triggers contains 3 if {
	props.is_major == true
	some category in object.get(props, "crime_category", [])
	category in {"duty_crime", "organized_crime", "financial_crime"}
}

chief_triggers contains 4 if props.many_people_involved == true

chief_triggers contains 4 if props.major_social_impact == true

chief_triggers contains 4 if props.serious_harm == true

chief_triggers contains 5 if props.new_type == true

chief_triggers contains 5 if props.general_guiding_significance == true

# 十三(6). A34: designated jurisdiction (指定管辖, designated_jurisdiction_by) is not 交办
# (origin assigned_by_higher) and is not itself a trigger.
chief_triggers contains 6 if {
	props.origin in {"assigned_by_higher", "request_from_lower", "police_reconsideration_request", "police_review_request"}
}

chief_triggers contains 7 if props.rules_require_chief == true

# Booleans used inside comprehensions have defaults: the RVM makes a comprehension that
# references an undefined rule undefined as a whole, where the Engine (and OPA) yield empty.
default outside_power_list := false

default for_chief_or_committee := false

default majority_disagrees := false

# A4: a matter not shown to be inside the power list counts as outside it.
outside_power_list if not props.within_power_list == true

# 八, 二十三(1): the case must go to the chief or the committee.
for_chief_or_committee if count(committee_triggers) > 0

for_chief_or_committee if count(chief_triggers) > 0

for_chief_or_committee if outside_power_list

for_chief_or_committee if props.power_list_level in {"chief", "committee"}

# 二十四: a joint meeting was held and its majority differs from the procurator's opinion.
# When the procurator's opinion is not given, the disagreement is assumed rather than
# silently dropped (the consequence, a report to the chief, is the safe side).
majority_disagrees if {
	meeting := data.quanze.lib.capacity.ctx.joint_meeting
	meeting.held == true
	data.quanze.lib.capacity.named(meeting.majority_opinion)
	not meeting.majority_opinion == _procurator_opinion(meeting)
}

_procurator_opinion(meeting) := object.get(
	meeting,
	"procurator_opinion",
	object.get(data.quanze.lib.capacity.ctx, "procurator_opinion", ""),
)
