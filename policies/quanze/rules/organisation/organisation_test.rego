package quanze.rules.organisation_test

import rego.v1

import data.quanze.testlib as t

# ------------------------------------------------------------------ fixtures

team := {"type": "team", "id": "T-1", "properties": {
	"procuratorate": "PROC-CITY-A", "department": "DEPT-CRIM-1",
	"team_procurators": ["p-L1", "p-T2"],
}}

team_with(extra) := {"type": "team", "id": "T-1", "properties": object.union(team.properties, extra)}

case_with(base, extra) := {"type": "case", "id": base.id, "properties": object.union(base.properties, extra)}

chief := t.person("chief-A", "chief_procurator", {"roles": ["chief_procurator", "procurator", "committee_member"]})

deputy := t.person(
	"dep-D2",
	"deputy_chief_procurator",
	{"roles": ["deputy_chief_procurator", "procurator", "committee_member"]},
)

# dep-D3 holds the example registry's delegation of every chief power (scope *).
delegate := t.person(
	"dep-D3",
	"deputy_chief_procurator",
	{"roles": ["deputy_chief_procurator", "procurator", "committee_member"]},
)

full_time_member := t.person(
	"ftm-F1",
	"full_time_committee_member",
	{"roles": ["full_time_committee_member", "procurator", "committee_member"]},
)

case_management := {
	"type": "unit",
	"id": "cm-A",
	"properties": {"role": "case_management", "roles": ["case_management"], "procuratorate": "PROC-CITY-A"},
}

procurator := t.person("p-A1", "procurator", {})

lead := t.person("p-L1", "procurator", {})

member := t.person("p-T2", "procurator", {})

other_procurator := t.person("p-X9", "procurator", {})

civil_dept_head := t.person(
	"dh-B1",
	"department_head",
	{"roles": ["department_head", "procurator"], "department": "DEPT-CIVIL-1"},
)

head_without_status := t.person("dh-C1", "department_head", {})

complete_minutes := {"minutes_complete": true, "signed_by_all_attendees": true}

# ------------------------------------------------------------------ 九: case.assign (R09-1, A39)

# 九: case management assigns at random; the method is logged.
test_case_management_assigns_at_random_allowed if {
	d := t.decide(case_management, "case.assign", t.sole_case, {"assignment_method": "random"})
	d.decision == true
	t.codes(d) == {"assign_case"}
	t.articles(d) == {"九"}
	t.obligation_codes(d) == {"log_assignment_method"}
}

# 九 "指定分案为辅": a designated assignment records its reason (A39).
test_dept_head_assigns_by_designation_allowed if {
	d := t.decide(t.dept_head, "case.assign", t.sole_case, {"assignment_method": "designated"})
	d.decision == true
	t.obligation_codes(d) == {"log_assignment_method", "record_designation_reason"}
}

# 九: the request must say whether the assignment is random or designated.
test_case_assign_without_method_denied if {
	d := t.decide(case_management, "case.assign", t.sole_case, {})
	d.decision == false
	t.codes(d) == {"assignment_method_required"}
}

# 九 "在坚持专业分工的基础上", A39: a department head assigns the cases of their department.
test_dept_head_assigns_other_department_case_denied if {
	d := t.decide(civil_dept_head, "case.assign", t.sole_case, {"assignment_method": "random"})
	d.decision == false
	t.codes(d) == {"not_case_department_head"}
	t.articles(d) == {"九"}
}

# 四十五: a department head without procurator status has no department-head powers.
test_dept_head_without_procurator_status_assigns_denied if {
	d := t.decide(head_without_status, "case.assign", t.sole_case, {"assignment_method": "random"})
	d.decision == false
	t.codes(d) == {"dept_head_requires_procurator_status"}
	t.articles(d) == {"四十五"}
}

# 九, A39: a procurator does not assign cases.
test_procurator_assigns_case_denied if {
	d := t.decide(procurator, "case.assign", t.sole_case, {"assignment_method": "random"})
	d.decision == false
	t.codes(d) == {"action_not_granted"}
	t.articles(d) == {"九"}
}

# R05-1, A38: a case given to a "team" of one procurator is denied.
test_case_assigned_to_one_procurator_team_denied if {
	one := case_with(t.team_case, {"team_procurators": ["p-L1"]})
	d := t.decide(case_management, "case.assign", one, {"assignment_method": "random"})
	d.decision == false
	t.codes(d) == {"team_needs_two_procurators"}
	t.articles(d) == {"五"}
}

# ------------------------------------------------------------------ 五: team.form (R05-1, A37, A38)

# 五: a team of two procurators formed by the chief.
test_chief_forms_team_of_two_allowed if {
	d := t.decide(chief, "team.form", team, {})
	d.decision == true
	t.codes(d) == {"chief_forms_team"}
}

# 五, A39: case management forms a team too.
test_case_management_forms_team_allowed if {
	d := t.decide(case_management, "team.form", team, {})
	d.decision == true
	t.codes(d) == {"assigner_forms_team"}
}

# A38: one procurator is not a team ("两名以上检察官").
test_team_of_one_procurator_denied if {
	d := t.decide(chief, "team.form", team_with({"team_procurators": ["p-L1"]}), {})
	d.decision == false
	t.codes(d) == {"team_needs_two_procurators"}
}

# 五: team.form takes the team itself as its resource.
test_team_form_on_case_resource_denied if {
	d := t.decide(chief, "team.form", t.team_case, {})
	d.decision == false
	t.codes(d) == {"team_resource_required"}
}

# A37: a team holding both a deputy chief and a full-time member could not have both as lead;
# who is what is the directory's to say, not the request's.
test_team_with_two_leaders_denied if {
	both := team_with({"team_procurators": ["dep-D2", "ftm-F1", "p-T2"]})
	d := t.decide(chief, "team.form", both, {})
	d.decision == false
	t.codes(d) == {"team_has_several_leaders"}
}

# R05-3: a deputy chief in the team, but another procurator named as lead.
test_team_with_deputy_not_leading_denied if {
	led := team_with({"team_procurators": ["dep-D2", "p-L1"], "lead_procurator": "p-L1"})
	d := t.decide(chief, "team.form", led, {})
	d.decision == false
	t.codes(d) == {"leader_must_be_lead"}
}

# R05-3 "whoever designates": a case assigned to a team with a deputy chief who is not its lead.
test_case_assigned_to_team_with_deputy_not_leading_denied if {
	case := case_with(t.team_case, {"team_procurators": ["dep-D2", "p-L1"], "lead_procurator": "p-L1"})
	d := t.decide(case_management, "case.assign", case, {"assignment_method": "designated"})
	d.decision == false
	t.codes(d) == {"leader_must_be_lead"}
}

# R05-3: the deputy chief leads the team: valid.
test_team_led_by_deputy_allowed if {
	led := team_with({"team_procurators": ["dep-D2", "p-T2"], "lead_procurator": "dep-D2"})
	d := t.decide(chief, "team.form", led, {})
	d.decision == true
}

# 五, A39: an ordinary procurator does not form teams.
test_procurator_forms_team_denied if {
	d := t.decide(procurator, "team.form", team, {})
	d.decision == false
	t.codes(d) == {"action_not_granted"}
	t.articles(d) == {"五"}
}

# A39: a department head forms teams for their own department only; the reason cites 五.
test_dept_head_forms_other_department_team_denied if {
	d := t.decide(civil_dept_head, "team.form", team, {})
	d.decision == false
	t.codes(d) == {"not_case_department_head"}
	t.articles(d) == {"五"}
}

# ------------------------------------------------------------------ 五, 四十六: team.designate_lead (R05-2)

# 五 "检察长应当指定一名检察官担任主办检察官".
test_chief_designates_lead_allowed if {
	d := t.decide(chief, "team.designate_lead", team, {"proposed_lead": "p-L1"})
	d.decision == true
	t.codes(d) == {"chief_designates_lead"}
	t.articles(d) == {"五"}
}

# 四十六: a deputy chief whose delegation covers the designation.
test_delegate_designates_lead_allowed if {
	d := t.decide(delegate, "team.designate_lead", t.team_case, {"proposed_lead": "p-T2"})
	d.decision == true
	t.codes(d) == {"delegate_designates_lead"}
	t.articles(d) == {"四十六"}
}

# 四, 四十六: without a delegation a deputy chief does not exercise the chief's power.
test_deputy_without_delegation_designates_lead_denied if {
	d := t.decide(deputy, "team.designate_lead", team, {"proposed_lead": "p-L1"})
	d.decision == false
	t.codes(d) == {"designation_needs_delegation", "action_not_granted"}
	t.articles(d) == {"四十六", "五"}
}

# 五 "指定一名检察官": the lead is one of the team's procurators.
test_designated_lead_outside_team_denied if {
	d := t.decide(chief, "team.designate_lead", team, {"proposed_lead": "p-X9"})
	d.decision == false
	t.codes(d) == {"proposed_lead_not_in_team"}
}

# R05-3: a full-time member in the team must be the one designated.
test_designating_other_than_leader_in_team_denied if {
	with_member := team_with({"team_procurators": ["ftm-F1", "p-L1"]})
	d := t.decide(chief, "team.designate_lead", with_member, {"proposed_lead": "p-L1"})
	d.decision == false
	t.codes(d) == {"leader_must_be_lead"}
}

# A38: a sole case has no team whose lead could be designated.
test_designating_lead_of_sole_case_denied if {
	d := t.decide(chief, "team.designate_lead", t.sole_case, {"proposed_lead": "p-A1"})
	d.decision == false
	t.codes(d) == {"team_needs_two_procurators", "proposed_lead_not_in_team"}
}

# ------------------------------------------------------------------ 五: team.join (R05-3, A37)

# 五: a procurator joins a team as a member.
test_procurator_joins_team_as_member_allowed if {
	d := t.decide(other_procurator, "team.join", t.team_case, {"team_role": "member"})
	d.decision == true
	t.codes(d) == {"procurator_joins_team"}
	t.obligation_codes(d) == set()
}

# R05-3: a deputy chief may not join as an ordinary member.
test_deputy_joins_team_as_member_denied if {
	d := t.decide(deputy, "team.join", team, {"team_role": "member"})
	d.decision == false
	t.codes(d) == {"leader_must_be_lead"}
}

# R05-3: the chief joining as an ordinary member is denied too.
test_chief_joins_team_as_member_denied if {
	d := t.decide(chief, "team.join", team, {"team_role": "member"})
	d.decision == false
	t.codes(d) == {"leader_must_be_lead"}
}

# 五: joining as lead of a team with no lead yet leaves the chief's designation due.
test_deputy_joins_team_as_lead_allowed if {
	d := t.decide(deputy, "team.join", team, {"team_role": "lead"})
	d.decision == true
	t.obligation_codes(d) == {"lead_awaits_chief_designation"}
}

# 五: the designated lead joins as lead, with nothing left to designate.
test_designated_lead_joins_as_lead_allowed if {
	d := t.decide(lead, "team.join", t.team_case, {"team_role": "lead"})
	d.decision == true
	t.obligation_codes(d) == set()
}

# 五 "指定一名": the team already has another lead.
test_member_joins_as_second_lead_denied if {
	d := t.decide(member, "team.join", t.team_case, {"team_role": "lead"})
	d.decision == false
	t.codes(d) == {"team_already_has_lead"}
}

# 五: the request says whether the subject joins as lead or member.
test_join_without_team_role_denied if {
	d := t.decide(other_procurator, "team.join", t.team_case, {})
	d.decision == false
	t.codes(d) == {"team_role_unrecognised"}
}

# A37: a full-time member joining a team that already holds a deputy chief.
test_second_leader_joins_team_denied if {
	with_deputy := team_with({"team_procurators": ["dep-D2", "p-T2"]})
	d := t.decide(full_time_member, "team.join", with_deputy, {"team_role": "lead"})
	d.decision == false
	t.codes(d) == {"team_has_several_leaders", "leader_must_be_lead"}
}

# 五 "由两名以上检察官组成": auxiliaries are attached, they do not join as procurators.
test_assistant_joins_team_denied if {
	d := t.decide(t.assistant, "team.join", t.team_case, {"team_role": "member"})
	d.decision == false
	t.codes(d) == {"action_not_granted", "outside_role_duties"}
}

# ------------------------------------------------------------------ 五: team.assign_auxiliary (R05-4, A39)

# 五 "可以配备必要的检察辅助人员", A39: case management attaches auxiliaries.
test_case_management_attaches_auxiliary_allowed if {
	d := t.decide(case_management, "team.assign_auxiliary", t.team_case, {})
	d.decision == true
	t.codes(d) == {"attach_auxiliary_staff"}
}

# A39: so does the head of the case's department.
test_dept_head_attaches_auxiliary_allowed if {
	d := t.decide(t.dept_head, "team.assign_auxiliary", t.sole_case, {})
	d.decision == true
}

# A39: a handling procurator does not attach auxiliaries to their own case.
test_procurator_attaches_auxiliary_denied if {
	d := t.decide(procurator, "team.assign_auxiliary", t.sole_case, {})
	d.decision == false
	t.codes(d) == {"action_not_granted"}
	t.articles(d) == {"五"}
}

# ------------------------------------------------------------------ 六: discussion and dissent (R06)

# 六: the lead holds the team discussion and must record dissent.
test_lead_holds_team_discussion_allowed if {
	d := t.decide(lead, "team.hold_discussion", t.team_case, {})
	d.decision == true
	t.codes(d) == {"lead_holds_team_discussion"}
	t.obligation_codes(d) == {"record_dissent"}
}

# 六 "将不同意见记录在案".
test_lead_records_dissent_allowed if {
	d := t.decide(lead, "team.record_dissent", t.team_case, {})
	d.decision == true
	t.codes(d) == {"lead_records_dissent"}
}

# 六: a team member does not run the team's discussion.
test_member_holds_team_discussion_denied if {
	d := t.decide(member, "team.hold_discussion", t.team_case, {})
	d.decision == false
	t.codes(d) == {"only_lead_runs_team_discussion"}
}

# 六: a sole procurator has no team to discuss with.
test_sole_procurator_records_team_dissent_denied if {
	d := t.decide(procurator, "team.record_dissent", t.sole_case, {})
	d.decision == false
	t.codes(d) == {"action_not_granted"}
	t.articles(d) == {"六"}
}

# ------------------------------------------------------------------ 七: joint meetings (R07-1, R07-4, R07-5, A20)

# 七 "可以提请业务部门负责人召开检察官联席会议讨论": the sole procurator. (R07-1, R07-3)
test_sole_procurator_requests_joint_meeting_allowed if {
	d := t.decide(procurator, "joint_meeting.request", t.sole_case, {})
	d.decision == true
	t.codes(d) == {"request_joint_meeting"}
	t.articles(d) == {"七"}
}

# 七, A21: the lead requests for the team.
test_lead_requests_joint_meeting_allowed if {
	d := t.decide(lead, "joint_meeting.request", t.team_case, {})
	d.decision == true
}

# 七: a team member requests through the lead.
test_member_requests_joint_meeting_denied if {
	d := t.decide(member, "joint_meeting.request", t.team_case, {})
	d.decision == false
	t.codes(d) == {"team_requests_through_lead"}
}

# 七: a procurator who does not handle the case makes no request on it.
test_other_procurator_requests_joint_meeting_denied if {
	d := t.decide(other_procurator, "joint_meeting.request", t.sole_case, {})
	d.decision == false
	t.codes(d) == {"action_not_granted"}
}

# R07-5: a procurator requests; only the department head convenes.
test_procurator_convenes_joint_meeting_denied if {
	d := t.decide(procurator, "joint_meeting.convene", t.sole_case, {})
	d.decision == false
	t.codes(d) == {"procurator_cannot_convene_joint_meeting"}
	t.articles(d) == {"七"}
}

# 二十三(3): the department head still convenes (internal_checks).
test_dept_head_convenes_joint_meeting_allowed if {
	d := t.decide(t.dept_head, "joint_meeting.convene", t.sole_case, {})
	d.decision == true
}

# A20: attending procurators give opinions and sign the minutes.
test_procurator_participates_in_joint_meeting_allowed if {
	d := t.decide(other_procurator, "joint_meeting.participate", t.sole_case, {})
	d.decision == true
	t.codes(d) == {"procurator_attends_joint_meeting"}
	t.obligation_codes(d) == {"sign_minutes"}
	count(d.accountable) == 0
}

# A20: auxiliaries do not give opinions (or vote) at a joint meeting.
test_assistant_participates_in_joint_meeting_denied if {
	d := t.decide(t.assistant, "joint_meeting.participate", t.sole_case, t.guided)
	d.decision == false
	t.codes(d) == {"auxiliaries_do_not_give_opinions"}
}

# R07-4: complete minutes signed by every attendee are filed with the case.
test_dept_head_records_complete_signed_minutes_allowed if {
	d := t.decide(
		t.dept_head,
		"joint_meeting.record_minutes",
		t.sole_case,
		object.union(complete_minutes, {"joint_meeting": {"held": true, "convened_by": "dh-A1"}}),
	)
	d.decision == true
	t.codes(d) == {"convenor_records_minutes"}
	t.obligation_codes(d) == {"file_minutes_with_case"}
}

# R07-4 "全面记录".
test_incomplete_minutes_denied if {
	d := t.decide(t.dept_head, "joint_meeting.record_minutes", t.sole_case, {"signed_by_all_attendees": true})
	d.decision == false
	t.codes(d) == {"minutes_incomplete"}
}

# R07-4 "经参加会议的检察官签名".
test_unsigned_minutes_denied if {
	d := t.decide(t.dept_head, "joint_meeting.record_minutes", t.sole_case, {"minutes_complete": true})
	d.decision == false
	t.codes(d) == {"minutes_not_signed_by_all"}
}

# 七: the head who convened the meeting records it.
test_other_head_records_minutes_denied if {
	context := object.union(complete_minutes, {"joint_meeting": {"held": true, "convened_by": "dh-A9"}})
	d := t.decide(t.dept_head, "joint_meeting.record_minutes", t.sole_case, context)
	d.decision == false
	t.codes(d) == {"not_meeting_convenor"}
}

# 七: a procurator does not keep the meeting's minutes.
test_procurator_records_minutes_denied if {
	d := t.decide(procurator, "joint_meeting.record_minutes", t.sole_case, complete_minutes)
	d.decision == false
	t.codes(d) == {"action_not_granted"}
	t.articles(d) == {"七"}
}

# ------------------------------------------------------------------ whole-catalog agreement

# 五, 四十六: List and Check agree on the team actions for the leaders and assigners used here.
test_list_agrees_with_check_for_organisation_subjects if {
	every subject in [chief, delegate, case_management, t.dept_head, lead] {
		ds := data.quanze.authz.decisions with input as {
			"subject": subject,
			"resource": team,
			"context": {"proposed_lead": "p-L1", "team_role": "lead"},
		}
		every act in ["team.form", "team.designate_lead", "team.join", "team.assign_auxiliary"] {
			ds[act] == t.decide(subject, act, team, {"proposed_lead": "p-L1", "team_role": "lead"})
		}
	}
}
