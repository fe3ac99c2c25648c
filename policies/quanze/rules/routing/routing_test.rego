package quanze.rules.routing_test

import rego.v1

import data.quanze.testlib as t

procurator := t.person("p-A1", "procurator", {})

lead := t.person("p-L1", "procurator", {})

member := t.person("p-T2", "procurator", {})

outsider := t.person("p-X9", "procurator", {})

chief := t.person("chief-A", "chief_procurator", {"roles": ["chief_procurator", "procurator", "committee_member"]})

committee := {"type": "body", "id": "ctte-A", "properties": {"role": "committee", "roles": ["committee"], "procuratorate": "PROC-CITY-A"}}

delegation_for(scope) := {"from": "chief-A", "scope": scope, "valid_from": "2024-07-04T00:00:00Z", "valid_until": "2099-12-31T00:00:00Z"}

deputy(scope) := t.person("dep-D1", "deputy_chief_procurator", {"roles": ["deputy_chief_procurator", "procurator"], "delegations": [delegation_for(scope)]})

with_props(case, props) := {"type": "case", "id": case.id, "properties": object.union(case.properties, props)}

reserved_by(d, code) := {r.item | some r in d.reasons; r.code == code}

# 六: the sole procurator decides within the power list and answers for it (二十九). (R06-1)
test_sole_procurator_decides_within_power_list_allowed if {
	d := t.decide(procurator, "decision.prosecute", t.sole_case, {})
	d.decision == true
	t.codes(d) == {"procurator_decides_within_power"}
	t.articles(d) == {"六"}
	d.accountable == {{"subject_id": "p-A1", "capacity": "sole_procurator", "responsibility": "judicial", "article": "二十九"}}
}

# 六, A4: outside the power list the chief decides; the procurator is told to propose (八). (R08-1)
test_sole_procurator_decides_outside_power_list_escalated_to_chief if {
	d := t.decide(procurator, "decision.not_prosecute", t.escalated_case, {})
	d.decision == false
	d.escalate_to == "chief"
	t.codes(d) == {"outside_power_list", "propose_opinion_instead"}
}

# 十三(3), A2: a major duty-crime case is the chief's.
test_major_duty_crime_decision_escalated_to_chief if {
	d := t.decide(procurator, "decision.prosecute", with_props(t.sole_case, {"is_major": true, "crime_category": ["duty_crime"]}), {})
	d.decision == false
	d.escalate_to == "chief"
	reserved_by(d, "reserved_for_chief") == {3}
}

# 十一(1), A1: national security triggers both; the committee prevails and only its ground is cited.
test_national_security_decision_escalated_to_committee if {
	d := t.decide(procurator, "decision.prosecute", with_props(t.sole_case, {"involves_national_security": true}), {})
	d.decision == false
	d.escalate_to == "committee"
	t.codes(d) == {"reserved_for_committee", "propose_opinion_instead"}
	reserved_by(d, "reserved_for_committee") == {1}
}

# 十一(3): a protest in a major, difficult, complex case goes to the committee; otherwise not. (R11-3)
test_protest_in_major_difficult_case_escalated_to_committee if {
	d := t.decide(procurator, "decision.protest", with_props(t.sole_case, {"major_difficult_complex": true}), {})
	d.escalate_to == "committee"
	reserved_by(d, "reserved_for_committee") == {3}
	ordinary := t.decide(procurator, "decision.protest", t.sole_case, {})
	ordinary.decision == true
}

# 十一(2), (4), (5) and 十三(6): the act itself reserves the matter.
test_acts_that_reserve_themselves_escalated if {
	reserved_by(t.decide(procurator, "case.report_spp_approval", t.sole_case, {}), "reserved_for_committee") == {2}
	reserved_by(t.decide(procurator, "request.to_higher", t.sole_case, {}), "reserved_for_committee") == {4}
	reserved_by(t.decide(procurator, "committee.reconsider", t.sole_case, {}), "reserved_for_committee") == {5}
	reply := t.decide(procurator, "request.reply_to_lower", t.sole_case, {})
	reply.escalate_to == "chief"
	reserved_by(reply, "reserved_for_chief") == {6}
}

# 二十四 (R24-4): the joint meeting's majority disagrees, so the chief decides, even within the list.
test_majority_disagreement_decision_escalated_to_chief if {
	ctx := {"joint_meeting": {"held": true, "majority_opinion": "not_prosecute", "procurator_opinion": "prosecute"}}
	d := t.decide(procurator, "decision.prosecute", t.sole_case, ctx)
	d.escalate_to == "chief"
	"joint_meeting_majority_disagrees" in t.codes(d)
}

# 六: the lead decides after the team discussed, and records dissent. (R06-2)
test_lead_procurator_decides_after_discussion_allowed if {
	d := t.decide(lead, "decision.prosecute", with_props(t.team_case, {"within_power_list": true}), {"team_discussion_held": true})
	d.decision == true
	t.obligation_codes(d) == {"record_dissent"}
	d.accountable == {{"subject_id": "p-L1", "capacity": "lead_procurator", "responsibility": "judicial", "article": "二十九"}}
}

# R06-2
test_lead_procurator_decides_without_discussion_denied if {
	d := t.decide(lead, "decision.prosecute", with_props(t.team_case, {"within_power_list": true}), {})
	d.decision == false
	t.codes(d) == {"team_discussion_required"}
}

# 六 (R06-3): a team member who is not the lead does not decide for the team.
test_team_member_decides_denied if {
	d := t.decide(member, "decision.prosecute", with_props(t.team_case, {"within_power_list": true}), {"team_discussion_held": true})
	d.decision == false
	t.codes(d) == {"only_lead_procurator_decides"}
}

# 六: a procurator who does not handle the case does not decide it.
test_procurator_of_another_case_decides_denied if {
	d := t.decide(outsider, "decision.prosecute", t.sole_case, {})
	d.decision == false
	t.codes(d) == {"not_deciding_procurator"}
}

# 十三, 八: the chief decides a reserved matter; the handling procurator answers for the facts. (R04-1, R13-0)
test_chief_decides_reserved_matter_allowed if {
	d := t.decide(chief, "decision.prosecute", t.escalated_case, {})
	d.decision == true
	t.codes(d) == {"chief_decides_reserved_matter"}
	t.obligation_codes(d) == {"record_department_head_review"}
	d.accountable == {
		{"subject_id": "chief-A", "capacity": "chief_procurator", "responsibility": "judicial", "article": "二十八"},
		{"subject_id": "p-A1", "capacity": "handling_procurator", "responsibility": "judicial", "article": "二十九"},
	}
	reviewed := t.decide(chief, "decision.prosecute", t.escalated_case, {"department_head_review_done": true})
	count(reviewed.obligations) == 0
}

# 二十二, A24: the chief may decide a matter within the procurator's power directly.
test_chief_decides_within_power_directly_allowed if {
	d := t.decide(chief, "decision.not_prosecute", t.sole_case, {})
	d.decision == true
	t.codes(d) == {"chief_decides_directly"}
	t.obligation_codes(d) == {"record_as_chief_decision"}
}

# 十一, 八: the chief does not decide a committee matter, but refers it.
test_chief_decides_committee_matter_escalated if {
	d := t.decide(chief, "request.to_higher", t.sole_case, {})
	d.decision == false
	d.escalate_to == "committee"
	t.codes(d) == {"reserved_for_committee", "refer_to_committee_instead"}
}

# 四十六: a deputy chief with a delegation covering the act decides the chief's matter as the chief.
test_deputy_with_delegation_decides_chief_matter_allowed if {
	d := t.decide(deputy(["decision.prosecute"]), "decision.prosecute", t.escalated_case, {})
	d.decision == true
	t.codes(d) == {"delegate_decides_for_chief"}
	{"subject_id": "dep-D1", "capacity": "deputy_chief_procurator", "responsibility": "judicial", "article": "二十八"} in d.accountable
}

# 四, A7: without a delegation a deputy chief does not decide the chief's matters.
test_deputy_without_delegation_escalated_to_chief if {
	d := t.decide(deputy(["decision.protest"]), "decision.prosecute", t.escalated_case, {})
	d.decision == false
	d.escalate_to == "chief"
}

# 四十六, A8: a delegate never exceeds the chief: committee matters still go to the committee.
test_deputy_with_delegation_decides_committee_matter_escalated if {
	d := t.decide(deputy(["*"]), "decision.prosecute", with_props(t.escalated_case, {"requires_spp_approval": true}), {})
	d.escalate_to == "committee"
}

# 十一, 八, 四十七: the committee decides on the chief's referral, in the procuratorate's name;
# members answer for their votes (二十七), the reporting procurator for the facts. (R03-1, R11-7)
test_committee_decides_referred_matter_allowed if {
	d := t.decide(committee, "decision.prosecute", with_props(t.sole_case, {"involves_national_security": true}), {"referred_by": "chief-A"})
	d.decision == true
	t.codes(d) == {"committee_decides"}
	t.obligation_codes(d) == {"issue_in_procuratorate_name"}
	d.accountable == {
		{"subject_id": "", "capacity": "committee_member", "responsibility": "judicial", "article": "二十七"},
		{"subject_id": "p-A1", "capacity": "handling_procurator", "responsibility": "judicial", "article": "二十七"},
	}
}

# 二十二: the chief may refer even a chief matter to the committee.
test_committee_decides_referred_chief_matter_allowed if {
	d := t.decide(committee, "decision.prosecute", t.escalated_case, {"referred_by": "chief-A"})
	t.codes(d) == {"committee_decides_on_referral"}
}

# 八: without the chief's referral the committee does not take up a case.
test_committee_without_referral_denied if {
	d := t.decide(committee, "decision.prosecute", with_props(t.sole_case, {"involves_national_security": true}), {})
	d.decision == false
	t.codes(d) == {"committee_needs_chief_referral"}
	d.escalate_to == ""
}

# 四十七: a power list may send a matter outside it to the committee.
test_power_list_sends_matter_to_committee if {
	d := t.decide(procurator, "decision.other_decisive", with_props(t.escalated_case, {"power_list_level": "committee"}), {})
	d.escalate_to == "committee"
	t.codes(d) == {"power_list_reserves_for_committee", "propose_opinion_instead"}
}

# 四十七 (R47-1): a non-decisive matter follows the power list, whatever triggers the case has.
test_procedural_matter_within_power_list_in_triggered_case_allowed if {
	d := t.decide(procurator, "decision.procedural", with_props(t.sole_case, {"involves_national_security": true}), {})
	d.decision == true
	outside := t.decide(procurator, "decision.procedural", t.escalated_case, {})
	outside.escalate_to == "chief"
	t.codes(outside) == {"outside_power_list", "propose_opinion_instead"}
}

# R13-0: a department head in the chain of decision is told where the matter goes.
test_department_head_decides_reserved_matter_escalated if {
	d := t.decide(t.dept_head, "decision.prosecute", t.escalated_case, {})
	d.escalate_to == "chief"
	not "propose_opinion_instead" in t.codes(d)
}

# 十七 vs 十四: an assistant is not in the chain of decision at all.
test_assistant_decides_not_granted if {
	d := t.decide(t.assistant, "decision.prosecute", t.escalated_case, t.guided)
	d.decision == false
	d.escalate_to == ""
	t.codes(d) == {"action_not_granted"}
}

# 六, 八: proposing an opinion is the alternative, open even in reserved matters.
test_sole_procurator_proposes_opinion_in_reserved_matter_allowed if {
	d := t.decide(procurator, "opinion.propose", with_props(t.sole_case, {"involves_national_security": true}), {})
	d.decision == true
	t.codes(d) == {"propose_handling_opinion"}
}

test_lead_proposes_without_discussion_denied if {
	d := t.decide(lead, "opinion.propose", t.team_case, {})
	t.codes(d) == {"team_discussion_required"}
	ok := t.decide(lead, "opinion.propose", t.team_case, {"team_discussion_held": true})
	ok.decision == true
	"record_dissent" in t.obligation_codes(ok)
}

test_team_member_proposes_denied if {
	d := t.decide(member, "opinion.propose", t.team_case, {"team_discussion_held": true})
	t.codes(d) == {"only_lead_procurator_decides"}
}

members(roles) := {sprintf("m-%d", [i]): r | some i, r in roles}

# 三 (R03-2): an even-numbered committee, or one without the chief or a full-time member, does not decide.
test_committee_with_invalid_composition_denied if {
	ctx := {"referred_by": "chief-A"}
	case := with_props(t.sole_case, {"involves_national_security": true})
	even := object.union(committee, {"properties": object.union(committee.properties, {"member_roles": members(["chief_procurator", "full_time_committee_member"])})})
	t.codes(t.decide(even, "decision.prosecute", case, ctx)) == {"committee_composition_invalid"}
	no_member := object.union(committee, {"properties": object.union(committee.properties, {"member_roles": members(["chief_procurator", "deputy_chief_procurator", "committee_member"])})})
	t.codes(t.decide(no_member, "decision.prosecute", case, ctx)) == {"committee_composition_invalid"}
}

# 三 (R03-2): a valid composition decides.
test_committee_with_valid_composition_allowed if {
	valid := object.union(committee, {"properties": object.union(committee.properties, {"member_roles": members(["chief_procurator", "deputy_chief_procurator", "full_time_committee_member"])})})
	d := t.decide(valid, "decision.prosecute", with_props(t.sole_case, {"involves_national_security": true}), {"referred_by": "chief-A"})
	d.decision == true
}
