package quanze.lib.power_list_test

import rego.v1

import data.quanze.testlib as t

# Procuratorates the sample data gives lists: PROC-CITY-C follows PL-PROV-B-2024 (filed
# with the SPP), PROC-CITY-D follows PL-PROV-C-2025 (not yet filed).
# The quota procurator of each of those procuratorates in the example directory.
_procurators := {"PROC-CITY-C": "p-C1", "PROC-CITY-D": "p-D1"}

procurator_in(proc) := t.person(_procurators[proc], "procurator", {"procuratorate": proc})

case_in(proc) := {"type": "case", "id": "C-77", "properties": {
	"procuratorate": proc, "department": "DEPT-CRIM-1", "domain": "criminal",
	"handling_mode": "sole", "sole_procurator": _procurators[proc],
}}

detail(d) := {r.message_en | some r in d.reasons}

# 六, 十六: the list gives the procurator the decision; the reason names the list and its filing. (R47-2)
test_list_within_power_decision_allowed_naming_the_list if {
	d := t.decide(procurator_in("PROC-CITY-C"), "decision.prosecute", case_in("PROC-CITY-C"), {})
	d.decision == true
	some r in d.reasons
	r.code == "procurator_decides_within_power"
	contains(r.message_en, "per power list PL-PROV-B-2024 (PROC-PROV-B, filed with the SPP)")
	contains(r.message_zh, "依据职权清单 PL-PROV-B-2024")
	count(d.obligations) == 0
}

# 十六, 四十七: the list sends the act to the chief, whatever the request's attribute says.
test_list_sends_act_to_chief_over_request_attribute if {
	case := {
		"type": "case",
		"id": "C-77",
		"properties": object.union(case_in("PROC-CITY-C").properties, {"within_power_list": true}),
	}
	d := t.decide(procurator_in("PROC-CITY-C"), "decision.protest", case, {})
	d.escalate_to == "chief"
	some r in d.reasons
	r.code == "outside_power_list"
	contains(r.message_en, "PL-PROV-B-2024")
}

# A4: an act the list does not name counts as outside it and goes to the chief.
test_act_not_in_list_goes_to_chief if {
	d := t.decide(procurator_in("PROC-CITY-C"), "request.reply_to_lower", case_in("PROC-CITY-C"), {})
	d.escalate_to == "chief"
}

# 四十七: a list may send an act to the committee.
test_list_sends_act_to_committee if {
	d := t.decide(procurator_in("PROC-CITY-D"), "decision.protest", case_in("PROC-CITY-D"), {})
	d.escalate_to == "committee"
	"power_list_reserves_for_committee" in t.codes(d)
}

# A32: a list not yet filed with the SPP still governs; the filing stays outstanding.
test_unfiled_list_decision_allowed_with_filing_obligation if {
	d := t.decide(procurator_in("PROC-CITY-D"), "decision.prosecute", case_in("PROC-CITY-D"), {})
	d.decision == true
	t.obligation_codes(d) == {"power_list_not_filed_with_spp"}
	some r in d.reasons
	contains(r.message_en, "not yet filed with the SPP")
}

# Without a list for the procuratorate, the request's attributes decide (A4).
test_no_list_request_attribute_decides if {
	d := t.decide(t.person("p-A1", "procurator", {}), "decision.protest", t.sole_case, {})
	d.decision == true
	every r in d.reasons {
		not contains(r.message_en, "power list")
	}
}
