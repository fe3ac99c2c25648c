package quanze.rules.routing_test

import rego.v1

import data.quanze.testlib as t

procurator := t.person("p-A1", "procurator", {})

lead := t.person("p-L1", "procurator", {})

member := t.person("p-T2", "procurator", {})

outsider := t.person("p-X9", "procurator", {})

chief := t.person("chief-A", "chief_procurator", {"roles": ["chief_procurator", "procurator", "committee_member"]})

committee := {
	"type": "body",
	"id": "ctte-A",
	"properties": {"role": "committee", "roles": ["committee"], "procuratorate": "PROC-CITY-A"},
}

# dep-D2: a deputy chief with no grant in the example registry; tests give it the one they need.
deputy := t.person("dep-D2", "deputy_chief_procurator", {"roles": ["deputy_chief_procurator", "procurator"]})

delegated(scope) := {"dep-D2": [{
	"document": "A检委托〔2024〕9号", "kind": "delegation", "grantor": "chief-A",
	"procuratorate": "PROC-CITY-A", "scope": scope, "valid_from": "2024-07-04",
}]}

with_props(case, props) := {"type": "case", "id": case.id, "properties": object.union(case.properties, props)}

reserved_by(d, code) := {r.item | some r in d.reasons; r.code == code}

# 六: the sole procurator decides within the power list and answers for it (二十九). (R06-1)
test_sole_procurator_decides_within_power_list_allowed if {
	d := t.decide(procurator, "decision.prosecute", t.sole_case, {})
	d.decision == true
	t.codes(d) == {"procurator_decides_within_power"}
	t.articles(d) == {"六"}
	d.accountable == {{
		"subject_id": "p-A1",
		"capacity": "sole_procurator",
		"responsibility": "judicial",
		"article": "二十九",
	}}
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
	d := t.decide(
		procurator,
		"decision.prosecute",
		with_props(t.sole_case, {"is_major": true, "crime_category": ["duty_crime"]}),
		{},
	)
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

# 二十四, 四十七: the report to the chief covers a non-decisive matter too — 四十七 narrows only 十一
# and 十三 — so a procedural decision the majority disagreed with goes to the chief.
test_majority_disagreement_on_procedural_matter_escalated_to_chief if {
	ctx := {"joint_meeting": {"held": true, "majority_opinion": "不批准延长", "procurator_opinion": "批准延长"}}
	d := t.decide(procurator, "decision.procedural", t.sole_case, ctx)
	d.decision == false
	d.escalate_to == "chief"
	t.codes(d) == {"joint_meeting_majority_disagrees", "propose_opinion_instead"}
}

# 六: the lead decides after the team discussed, and records dissent. (R06-2)
test_lead_procurator_decides_after_discussion_allowed if {
	d := t.decide(
		lead,
		"decision.prosecute",
		with_props(t.team_case, {"within_power_list": true}),
		{"team_discussion_held": true},
	)
	d.decision == true
	t.obligation_codes(d) == {"record_dissent"}
	d.accountable == {{
		"subject_id": "p-L1",
		"capacity": "lead_procurator",
		"responsibility": "judicial",
		"article": "二十九",
	}}
}

# R06-2
test_lead_procurator_decides_without_discussion_denied if {
	d := t.decide(lead, "decision.prosecute", with_props(t.team_case, {"within_power_list": true}), {})
	d.decision == false
	t.codes(d) == {"team_discussion_required"}
}

# 六 (R06-3): a team member who is not the lead does not decide for the team.
test_team_member_decides_denied if {
	d := t.decide(
		member,
		"decision.prosecute",
		with_props(t.team_case, {"within_power_list": true}),
		{"team_discussion_held": true},
	)
	d.decision == false
	t.codes(d) == {"only_lead_procurator_decides"}
}

# 六: a procurator who does not handle the case does not decide it.
test_procurator_of_another_case_decides_denied if {
	d := t.decide(outsider, "decision.prosecute", t.sole_case, {})
	d.decision == false
	t.codes(d) == {"not_deciding_procurator"}
}

# 六, 八, A4: the chief decides a matter outside the power list, citing that ground; the
# procurator who reported it answers only where the request says the facts were concealed,
# distorted or left out (二十九 para. 3). (R04-1, R13-0)
test_chief_decides_reserved_matter_allowed if {
	d := t.decide(chief, "decision.prosecute", t.escalated_case, {})
	d.decision == true
	{[r.code, r.article] | some r in d.reasons} == {["chief_decides_outside_power_list", "六"]}
	t.obligation_codes(d) == {"record_department_head_review", "issue_in_procuratorate_name"}
	d.accountable == {{
		"subject_id": "chief-A",
		"capacity": "chief_procurator",
		"responsibility": "judicial",
		"article": "二十八",
	}}
	concealed := t.decide(chief, "decision.prosecute", t.escalated_case, {"reporting_fault": "concealed_facts"})
	concealed.accountable == {
		{"subject_id": "chief-A", "capacity": "chief_procurator", "responsibility": "judicial", "article": "二十八"},
		{"subject_id": "p-A1", "capacity": "handling_procurator", "responsibility": "judicial", "article": "二十九"},
	}
}

# Allows cite the ground that made the matter the chief's: each 十三 item, the joint meeting's
# disagreement (二十四), not one fixed article.
test_chief_decision_cites_each_ground if {
	case := with_props(t.sole_case, {"many_people_involved": true, "new_type": true})
	d := t.decide(chief, "decision.prosecute", case, {})
	{[r.code, r.article, r.item] | some r in d.reasons} == {
		["chief_decides_reserved_matter", "十三", 4],
		["chief_decides_reserved_matter", "十三", 5],
	}
	meeting := {"joint_meeting": {"held": true, "majority_opinion": "not_prosecute", "procurator_opinion": "prosecute"}}
	after := t.decide(chief, "decision.prosecute", t.sole_case, meeting)
	{[r.code, r.article] | some r in after.reasons} == {["chief_decides_after_joint_meeting", "二十四"]}
}

# 五, 六, 二十九: a chief who leads the team decides as its lead — after the team's discussion,
# recording dissent, answerable as lead — even a matter reserved to the chief; 二十二 is no way
# around 六.
test_chief_leading_team_decides_as_lead if {
	case := {
		"type": "case",
		"id": "C-2009",
		"properties": object.union(
			t.team_case.properties,
			{"lead_procurator": "chief-A", "team_procurators": ["chief-A", "p-T2"], "within_power_list": true},
		),
	}
	undiscussed := t.decide(chief, "decision.prosecute", case, {})
	t.codes(undiscussed) == {"team_discussion_required"}
	d := t.decide(chief, "decision.prosecute", case, {"team_discussion_held": true})
	t.codes(d) == {"procurator_decides_within_power"}
	"record_dissent" in t.obligation_codes(d)
	{
		"subject_id": "chief-A",
		"capacity": "lead_procurator",
		"responsibility": "judicial",
		"article": "二十九",
	} in d.accountable
	reserved := with_props(case, {"new_type": true})
	r := t.decide(chief, "decision.prosecute", reserved, {"team_discussion_held": true})
	r.decision == true
	"record_dissent" in t.obligation_codes(r)
	{
		"subject_id": "chief-A",
		"capacity": "lead_procurator",
		"responsibility": "judicial",
		"article": "二十九",
	} in r.accountable
	{
		"subject_id": "chief-A",
		"capacity": "chief_procurator",
		"responsibility": "judicial",
		"article": "二十八",
	} in r.accountable
	t.codes(t.decide(chief, "decision.prosecute", reserved, {})) == {"team_discussion_required"}
}

# A24: the opinion is changed only by its author (the sole or lead procurator, a chief or head
# handling the case as such included); the chief reviewing another's case never rewrites it.
test_opinion_changed_only_by_its_author if {
	t.decide(procurator, "opinion.edit", t.sole_case, {}).decision == true
	t.codes(t.decide(member, "opinion.edit", t.team_case, {})) == {"only_author_edits_opinion"}
	reviewing := t.decide(chief, "opinion.edit", t.sole_case, {})
	{[r.code, r.article] | some r in reviewing.reasons} == {
		["leader_cannot_change_opinion", "二十二"],
		["action_not_granted", "六"],
	}
	t.codes(
		t.decide(chief, "opinion.demand_change", t.sole_case, {}),
	) == {"leader_cannot_change_opinion", "action_not_granted"}
	own := with_props(t.sole_case, {"sole_procurator": "chief-A"})
	t.decide(chief, "opinion.edit", own, {}).decision == true
	head_own := with_props(t.sole_case, {"sole_procurator": "dh-A1"})
	t.decide(t.dept_head, "opinion.edit", head_own, {}).decision == true
}

# 八: proposing an opinion on a matter for the chief or the committee carries the route through
# the department head's review.
test_proposal_on_chief_matter_routed_through_department_head if {
	d := t.decide(procurator, "opinion.propose", t.escalated_case, {})
	d.decision == true
	t.obligation_codes(d) == {"route_through_department_head_review"}
	within := t.decide(procurator, "opinion.propose", t.sole_case, {})
	t.obligation_codes(within) == set()
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
# The allow cites both grounds: the delegation (四十六) and what makes it the chief's matter (六:
# outside the power list). The deputy answers for the decision (P4, 二十八); the delegating chief is
# named in the reason ("delegated by", A9), not made accountable for a decision it did not take.
test_deputy_with_delegation_decides_chief_matter_allowed if {
	d := t.decide(
		deputy,
		"decision.prosecute",
		t.escalated_case,
		{},
	) with data.quanze.directory.grants as delegated(["decision.prosecute"])
	d.decision == true
	{[r.code, r.article] | some r in d.reasons} == {
		["delegate_decides_for_chief", "四十六"],
		["chief_decides_outside_power_list", "六"],
	}
	{
		"subject_id": "dep-D2",
		"capacity": "deputy_chief_procurator",
		"responsibility": "judicial",
		"article": "二十八",
	} in d.accountable
	{a.subject_id | some a in d.accountable} == {"dep-D2"}
	some r in d.reasons
	r.code == "delegate_decides_for_chief"
	contains(r.message_en, "delegated by chief-A")
	"issue_in_procuratorate_name" in t.obligation_codes(d)
}

# 二十二, 四十六: as the chief may decide a case others handle directly, so may a delegate whose
# delegation covers the act; the decision is recorded as the chief's, the chief named (A9).
test_deputy_with_delegation_decides_case_others_handle_allowed if {
	d := t.decide(
		deputy,
		"decision.prosecute",
		t.sole_case,
		{},
	) with data.quanze.directory.grants as delegated(["decision.prosecute"])
	d.decision == true
	t.codes(d) == {"delegate_decides_for_chief"}
	"record_as_chief_decision" in t.obligation_codes(d)
	some r in d.reasons
	contains(r.message_zh, "受 chief-A 委托")
}

# 四, A7: without a delegation a deputy chief does not decide the chief's matters.
test_deputy_without_delegation_escalated_to_chief if {
	d := t.decide(
		deputy,
		"decision.prosecute",
		t.escalated_case,
		{},
	) with data.quanze.directory.grants as delegated(["decision.protest"])
	d.decision == false
	d.escalate_to == "chief"
}

# 四十六, A8: a delegate never exceeds the chief: committee matters still go to the committee.
test_deputy_with_delegation_decides_committee_matter_escalated if {
	d := t.decide(
		deputy,
		"decision.prosecute",
		with_props(t.escalated_case, {"requires_spp_approval": true}),
		{},
	) with data.quanze.directory.grants as delegated(["*"])
	d.escalate_to == "committee"
}

# 十一, 八, 四十七: the committee decides on the chief's referral, in the procuratorate's name;
# members answer for their votes (二十七), the reporting procurator for the facts. (R03-1, R11-7)
test_committee_decides_referred_matter_allowed if {
	d := t.decide(
		committee,
		"decision.prosecute",
		with_props(t.sole_case, {"involves_national_security": true}),
		{"referred_by": "chief-A"},
	)
	d.decision == true
	{[r.code, r.article, r.item] | some r in d.reasons} == {["committee_decides", "十一", 1]}
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

# 八, 十一: a referral counts only when the directory shows the referrer is the chief (or the
# registry a delegation covering referrals): a procurator naming himself is no referral.
test_committee_referral_by_someone_other_than_the_chief_denied if {
	case := with_props(t.sole_case, {"involves_national_security": true})
	d := t.decide(committee, "decision.prosecute", case, {"referred_by": "p-A1"})
	d.decision == false
	t.codes(d) == {"referral_not_by_chief"}
	some r in d.reasons
	r.article == "八"
	contains(r.message_en, "the chief of PROC-CITY-A is chief-A")
	delegate := t.decide(
		committee,
		"decision.prosecute",
		case,
		{"referred_by": "dep-D2"},
	) with data.quanze.directory.grants as delegated(["case.refer_to_committee"])
	delegate.decision == true
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
	d := t.decide(
		procurator,
		"decision.other_decisive",
		with_props(t.escalated_case, {"power_list_level": "committee"}),
		{},
	)
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
	t.codes(d) == {"action_not_granted", "outside_role_duties"}
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

membership := {"document": "A检〔2023〕1号", "from": "2023-03-01"}

members(ids) := {id: membership | some id in ids}

# The example committee of PROC-CITY-A: the chief, five deputy chiefs, a full-time member and two
# senior procurators (nine).
valid_members := ["chief-A", "dep-D1", "dep-D2", "dep-D3", "dep-D4", "dep-D5", "ftm-F1", "p-S2", "p-S3"]

decide_with_members(ids) := d if {
	ctx := {"referred_by": "chief-A"}
	case := with_props(t.sole_case, {"involves_national_security": true})
	d := t.decide(
		committee,
		"decision.prosecute",
		case,
		ctx,
	) with data.quanze.directory.procuratorates["PROC-CITY-A"].committee.members as members(ids)
}

# 三 (R03-2): "由检察长、副检察长和若干资深检察官组成，成员应当为单数，并设专职委员" — the committee
# decides only while the directory's membership is an odd number, with the chief, every deputy
# chief and a full-time member.
test_committee_with_invalid_composition_denied if {
	# eight members; without a full-time member; without the chief; without a deputy chief.
	t.codes(decide_with_members(array.slice(valid_members, 0, 8))) == {"committee_composition_invalid"}
	t.codes(
		decide_with_members(["chief-A", "dep-D1", "dep-D2", "dep-D3", "dep-D4", "dep-D5", "p-S2", "p-S3", "p-A1"]),
	) == {"committee_composition_invalid"}
	t.codes(
		decide_with_members(["dep-D1", "dep-D2", "dep-D3", "dep-D4", "dep-D5", "ftm-F1", "p-S2", "p-S3", "p-A1"]),
	) == {"committee_composition_invalid"}
	t.codes(
		decide_with_members(["chief-A", "dep-D1", "dep-D2", "dep-D3", "dep-D4", "ftm-F1", "p-S2", "p-S3", "p-A1"]),
	) == {"committee_composition_invalid"}
}

# 三 (R03-2): the example composition decides; a member whose term has ended no longer counts.
test_committee_with_valid_composition_allowed if {
	decide_with_members(valid_members).decision == true
	ended := object.union(
		members(valid_members),
		{"p-A1": {"document": "A检〔2020〕1号", "from": "2020-01-01", "until": "2023-12-31"}},
	)
	case := with_props(t.sole_case, {"involves_national_security": true})
	d := t.decide(
		committee,
		"decision.prosecute",
		case,
		{"referred_by": "chief-A"},
	) with data.quanze.directory.procuratorates["PROC-CITY-A"].committee.members as ended
	d.decision == true
}
