package quanze.lib.matters_test

import rego.v1

import data.quanze.lib.matters
import data.quanze.testlib as t

case_with(props) := {"type": "case", "id": "C-7", "properties": object.union(t.sole_case.properties, props)}

matters_of(props) := {"committee": c, "chief": h, "reserved": r} if {
	req := t.request(t.dept_head, "opinion.review", case_with(props), {})
	c := matters.committee_triggers with input as req
	h := matters.chief_triggers with input as req
	r := {true | matters.for_chief_or_committee with input as req}
}

# 六, 四十七: inside the power list and no trigger, the procurator decides; nothing is reserved.
test_ordinary_case_within_power_list_not_reserved if {
	m := matters_of({})
	m == {"committee": set(), "chief": set(), "reserved": set()}
}

# A4: a case not shown to be within the power list goes to the chief.
test_case_outside_power_list_reserved if {
	m := matters_of({"within_power_list": false})
	m.reserved == {true}
}

# 十一(1) and 十三(1), A1: national security triggers both; the committee prevails in routing. (R11-1, R13-1)
test_national_security_triggers_committee_and_chief if {
	m := matters_of({"involves_national_security": true})
	m.committee == {1}
	m.chief == {1}
}

# 十一(1) / 十三(1), A1: "major" national interest is the committee's, "involved" the chief's. (R11-1, R13-1)
test_national_interest_severity_routes_by_degree if {
	matters_of({"national_interest": "major"}).committee == {1}
	matters_of({"national_interest": "involved"}).committee == set()
	matters_of({"national_interest": "involved"}).chief == {1}
	matters_of({"social_stability_impact": "serious"}).committee == {1}
	matters_of({"social_stability_impact": "affects"}).chief == {1}
}

# 十三(3), A2: "重大的" qualifies duty, organised and financial crime alike. (R13-3)
test_major_qualifier_applies_to_all_three_crime_types if {
	matters_of({"is_major": true, "crime_category": ["financial_crime"]}).chief == {3}
	matters_of({"crime_category": ["financial_crime"]}).chief == set()
	matters_of({"is_major": true, "crime_category": ["other"]}).chief == set()
}

# 十一(2), (4), (5), (6) and 十三(2), (4)–(7). (R11-2, R11-4, R11-5, R11-6, R13-2, R13-4, R13-5, R13-6, R13-7)
test_each_remaining_trigger if {
	matters_of({"requires_spp_approval": true}).committee == {2}
	matters_of({"request_to_higher_planned": true}).committee == {4}
	matters_of({"reconsideration_of_committee_decision": true}).committee == {5}
	matters_of({"rules_require_committee": true}).committee == {6}
	matters_of({"sensitive_category": "diplomacy"}).chief == {2}
	matters_of({"many_people_involved": true}).chief == {4}
	matters_of({"serious_harm": true}).chief == {4}
	matters_of({"major_social_impact": true}).chief == {4}
	matters_of({"new_type": true}).chief == {5}
	matters_of({"general_guiding_significance": true}).chief == {5}
	matters_of({"origin": "request_from_lower"}).chief == {6}
	matters_of({"origin": "ordinary"}).chief == set()
	matters_of({"rules_require_chief": true}).chief == {7}
	matters_of({"involves_public_interest": true}).chief == {1}
}

# 四十七: a power list may send a matter to the chief or the committee.
test_power_list_level_reserves if {
	matters_of({"power_list_level": "committee"}).reserved == {true}
}
