# METADATA
# title: Case organisation (五, 六, 七, 九, 十)
# description: |
#   How cases are assigned and teams formed and run.
#   五: a case is handled by a sole procurator or by a team of two or more procurators
#   (R05-1, A38); the chief designates the team's lead (R05-2, also a 四十六 delegate);
#   a chief, deputy chief or full-time committee member in a team must lead it (R05-3),
#   so a team holds at most one of them (A37); auxiliaries may be attached (R05-4).
#   六: the lead holds the team discussion and records dissent. 七: the sole or lead
#   procurator requests a joint meeting, which the department head convenes
#   (internal_checks grants that; a procurator may not, R07-5); attending procurators
#   give opinions (auxiliaries do not, A20); the minutes are complete, signed by every
#   attending procurator and filed with the case (R07-4). 九: cases are assigned at
#   random, or designated with a recorded reason (R09-1).
#   A39: the Opinion names no one to assign cases, form teams or attach auxiliaries;
#   here case management and the head of the case's (or team's) department do, and the
#   chief forms teams too (四: the chief leads the procuratorate's case work).
#   十 (R10-1), the leaders' annual caseload, is a reporting metric, not an access rule:
#   nothing here grants or denies on it (A40).
#   Every entry names its article: the messages are keyed by code, but a reason must cite
#   the article that applies to its action.
package quanze.rules.organisation

import rego.v1

# 五: leaders who, when in a team, must be its lead procurator.
leader_roles := {"chief_procurator", "deputy_chief_procurator", "full_time_committee_member"}

# 四十五: auxiliary staff (A20: they do not give opinions at a joint meeting).
auxiliary_roles := {"procurator_assistant", "clerk", "technical_staff", "judicial_police"}

# A39: acts of whoever assigns cases, forms teams and attaches auxiliaries, with the article
# that governs each. A department head does them for their own department only (九 "在坚持
# 专业分工的基础上"); the convening department head records the joint meeting's minutes (七).
dept_head_acts := {
	"case.assign": "九",
	"team.form": "五",
	"team.assign_auxiliary": "五",
	"joint_meeting.record_minutes": "七",
}

# 六: what the lead procurator does for the team.
lead_acts := {"team.hold_discussion": "lead_holds_team_discussion", "team.record_dissent": "lead_records_dissent"}

_props := data.quanze.lib.capacity.resource_props

_ctx := data.quanze.lib.capacity.ctx

# ------------------------------------------------------------------ team composition

# 五: the procurators of the team (the team resource, or the case a team handles), and those of
# them who must lead it (A37), as lib/capacity computes them from the directory.
team_procurators := data.quanze.lib.capacity.team_members

team_leaders := data.quanze.lib.capacity.team_leaders

default _subject_is_leader := false

_subject_is_leader if data.quanze.lib.capacity.role in leader_roles

# Booleans read inside comprehensions are compared with `== true` and have defaults: the RVM
# makes a comprehension that references an undefined rule undefined as a whole.
_joining_leader := {id |
	_subject_is_leader == true
	id := input.subject.id
}

_named_lead if data.quanze.lib.capacity.named(_props.lead_procurator)

_proposed_lead := object.get(_ctx, "proposed_lead", "")

_team_role := object.get(_ctx, "team_role", "")

# ------------------------------------------------------------------ who acts

_acting_dept_head if data.quanze.lib.capacity.role == "department_head"

_case_management if data.quanze.lib.capacity.role == "case_management"

# A39: case management, or a department head (whose department and status are checked below).
_assigner if _case_management

_assigner if _acting_dept_head

_lead if "lead_procurator" in data.quanze.lib.capacity.case_roles

_team_member if "team_procurator" in data.quanze.lib.capacity.case_roles

_sole_or_lead if "sole_procurator" in data.quanze.lib.capacity.case_roles

_sole_or_lead if _lead

# ------------------------------------------------------------------ 九: assigning cases

_assigning if {
	_assigner
	"case.assign" in data.quanze.lib.scope.actions
}

_assignment_method := object.get(_ctx, "assignment_method", "")

grants contains {"action": "case.assign", "code": "assign_case", "article": "九", "item": 0} if _assigning

# 九: "以随机分案为主、指定分案为辅" — the request says which.
denials contains {"action": "case.assign", "code": "assignment_method_required", "article": "九", "item": 0} if {
	_assigning
	not _assignment_method in {"random", "designated"}
}

# R05-1, A38: a case given to a team needs two procurators in it; one makes it sole-handled.
denials contains {"action": "case.assign", "code": "team_needs_two_procurators", "article": "五", "item": 0} if {
	_assigning
	_props.handling_mode == "team"
	count(team_procurators) < 2
}

# R05-3: a team given the case with a chief, deputy chief or full-time member who is not its
# lead — whoever assigns or designates, the leader in a team leads it (五).
denials contains {"action": "case.assign", "code": "leader_must_be_lead", "article": "五", "item": 0} if {
	_assigning
	_props.handling_mode == "team"
	count(data.quanze.lib.capacity.leaders_other_than(object.get(_props, "lead_procurator", ""))) > 0
}

obligations contains {"action": "case.assign", "code": "log_assignment_method", "article": "九", "item": 0} if _assigning

# 九, A39: designation is the exception, so its reason is recorded.
obligations contains {"action": "case.assign", "code": "record_designation_reason", "article": "九", "item": 0} if {
	_assigning
	_assignment_method == "designated"
}

# ------------------------------------------------------------------ 五: forming a team

_forming if "team.form" in data.quanze.lib.scope.actions

grants contains {"action": "team.form", "code": "chief_forms_team", "article": "五", "item": 0} if {
	_forming
	data.quanze.lib.capacity.role == "chief_procurator"
}

grants contains {"action": "team.form", "code": "assigner_forms_team", "article": "五", "item": 0} if {
	_forming
	_assigner
}

denials contains {"action": "team.form", "code": "team_resource_required", "article": "五", "item": 0} if {
	_forming
	not input.resource.type == "team"
}

# R05-1, A38: "由两名以上检察官组成的办案组".
denials contains {"action": act, "code": "team_needs_two_procurators", "article": "五", "item": 0} if {
	count(team_procurators) < 2
	some act in data.quanze.lib.scope.actions
	act in {"team.form", "team.designate_lead"}
}

# A37: two of chief, deputy chief and full-time member would both have to lead the team.
denials contains {"action": "team.form", "code": "team_has_several_leaders", "article": "五", "item": 0} if {
	_forming
	count(team_leaders) > 1
}

# R05-3: a leader in the team who is not its named lead.
denials contains {"action": "team.form", "code": "leader_must_be_lead", "article": "五", "item": 0} if {
	_forming
	_named_lead
	count(data.quanze.lib.capacity.leaders_other_than(_props.lead_procurator)) > 0
}

# ------------------------------------------------------------------ 五, 四十六: the lead

_designating if "team.designate_lead" in data.quanze.lib.scope.actions

grants contains {"action": "team.designate_lead", "code": "chief_designates_lead", "article": "五", "item": 0} if {
	_designating
	data.quanze.lib.capacity.role == "chief_procurator"
}

# A rule, not `not delegation.covers("…")`: the tree-walking Engine evaluated `not` over a
# function call with a constant argument as true even where the call itself was true.
default _delegated_designation := false

_delegated_designation if data.quanze.lib.delegation.covers("team.designate_lead")

grants contains object.union(
	{"action": "team.designate_lead", "code": "delegate_designates_lead", "article": "四十六", "item": 0},
	data.quanze.lib.delegation.delegated_by("team.designate_lead"),
) if {
	_designating
	_delegated_designation == true
}

# 四, 四十六: a deputy chief or full-time member exercises the chief's power only under a
# delegation that covers it.
prohibitions contains {
	"action": "team.designate_lead",
	"code": "designation_needs_delegation",
	"article": "四十六",
	"item": 0,
} if {
	_designating
	data.quanze.lib.capacity.role in data.quanze.lib.delegation.holder_roles
	_delegated_designation == false
}

# 五 "指定一名检察官": the request names one procurator of the team.
denials contains {"action": "team.designate_lead", "code": "proposed_lead_not_in_team", "article": "五", "item": 0} if {
	_designating
	not _proposed_lead in team_procurators
}

# R05-3: a leader in the team must be the one designated.
denials contains {"action": "team.designate_lead", "code": "leader_must_be_lead", "article": "五", "item": 0} if {
	_designating
	count(data.quanze.lib.capacity.leaders_other_than(_proposed_lead)) > 0
}

# ------------------------------------------------------------------ 五: joining a team

_joining if {
	data.quanze.lib.capacity.acts_as_procurator
	"team.join" in data.quanze.lib.scope.actions
}

grants contains {"action": "team.join", "code": "procurator_joins_team", "article": "五", "item": 0} if _joining

denials contains {"action": "team.join", "code": "team_role_unrecognised", "article": "五", "item": 0} if {
	_joining
	not _team_role in {"lead", "member"}
}

# R05-3: "检察长、副检察长、检察委员会专职委员参加检察官办案组的，应当担任主办检察官".
denials contains {"action": "team.join", "code": "leader_must_be_lead", "article": "五", "item": 0} if {
	_joining
	_subject_is_leader
	_team_role == "member"
}

# R05-3: joining as lead a team that holds a chief, deputy chief or full-time member, who must lead it.
denials contains {"action": "team.join", "code": "leader_must_be_lead", "article": "五", "item": 0} if {
	_joining
	_team_role == "lead"
	count(data.quanze.lib.capacity.leaders_other_than(input.subject.id)) > 0
}

# 五 "指定一名": the team already has another designated lead.
denials contains {"action": "team.join", "code": "team_already_has_lead", "article": "五", "item": 0} if {
	_joining
	_team_role == "lead"
	_named_lead
	_props.lead_procurator != input.subject.id
}

# A37: with the subject, the team would hold two leaders.
denials contains {"action": "team.join", "code": "team_has_several_leaders", "article": "五", "item": 0} if {
	_joining
	count(team_leaders | _joining_leader) > 1
}

# 五: the chief designates the lead; joining as lead before that leaves the designation due.
obligations contains {"action": "team.join", "code": "lead_awaits_chief_designation", "article": "五", "item": 0} if {
	_joining
	_team_role == "lead"
	not _named_lead
}

# ------------------------------------------------------------------ 五: auxiliaries (A39)

grants contains {"action": "team.assign_auxiliary", "code": "attach_auxiliary_staff", "article": "五", "item": 0} if {
	_assigner
	"team.assign_auxiliary" in data.quanze.lib.scope.actions
}

# ------------------------------------------------------------------ department heads (A39, 七)

# 四十五: "具有检察官身份的部门正职、副职".
denials contains {"action": act, "code": "dept_head_requires_procurator_status", "article": "四十五", "item": 0} if {
	_acting_dept_head
	not data.quanze.lib.capacity.holds_procurator_status
	some act in data.quanze.lib.scope.actions
	dept_head_acts[act]
}

denials contains {"action": act, "code": "not_case_department_head", "article": dept_head_acts[act], "item": 0} if {
	_acting_dept_head
	not data.quanze.lib.capacity.same_department
	some act in data.quanze.lib.scope.actions
	dept_head_acts[act]
}

# ------------------------------------------------------------------ 六: the team's discussion

_lead_acting contains act if {
	data.quanze.lib.capacity.acts_as_procurator
	some act in data.quanze.lib.scope.actions
	lead_acts[act]
}

grants contains {"action": act, "code": lead_acts[act], "article": "六", "item": 0} if {
	_lead
	some act in _lead_acting
}

# 六 gives the discussion and the record of dissent to the lead alone.
prohibitions contains {"action": act, "code": "only_lead_runs_team_discussion", "article": "六", "item": 0} if {
	_team_member
	some act in _lead_acting
}

obligations contains {"action": "team.hold_discussion", "code": "record_dissent", "article": "六", "item": 0} if {
	_lead
	"team.hold_discussion" in _lead_acting
}

# ------------------------------------------------------------------ 七: joint meetings

_requesting if {
	data.quanze.lib.capacity.acts_as_procurator
	"joint_meeting.request" in data.quanze.lib.scope.actions
}

# R07-1, A21: the sole procurator, or the lead for the team; the 二十四 majority rule
# (routing, internal_checks) applies to a meeting the procurator requested, too.
grants contains {"action": "joint_meeting.request", "code": "request_joint_meeting", "article": "七", "item": 0} if {
	_requesting
	_sole_or_lead
}

prohibitions contains {
	"action": "joint_meeting.request",
	"code": "team_requests_through_lead",
	"article": "七",
	"item": 0,
} if {
	_requesting
	_team_member
}

# R07-5: procurators request (提请); the department head convenes.
prohibitions contains {
	"action": "joint_meeting.convene",
	"code": "procurator_cannot_convene_joint_meeting",
	"article": "七",
	"item": 0,
} if {
	data.quanze.lib.capacity.role == "procurator"
	"joint_meeting.convene" in data.quanze.lib.scope.actions
}

# A20: attendees are procurators; each signs the minutes (七 "经参加会议的检察官签名").
# P18: their opinion is a reference, so attending carries no responsibility label.
grants contains {
	"action": "joint_meeting.participate",
	"code": "procurator_attends_joint_meeting",
	"article": "七",
	"item": 0,
} if {
	data.quanze.lib.capacity.acts_as_procurator
	"joint_meeting.participate" in data.quanze.lib.scope.actions
}

obligations contains {"action": "joint_meeting.participate", "code": "sign_minutes", "article": "七", "item": 0} if {
	data.quanze.lib.capacity.acts_as_procurator
	"joint_meeting.participate" in data.quanze.lib.scope.actions
}

prohibitions contains {
	"action": "joint_meeting.participate",
	"code": "auxiliaries_do_not_give_opinions",
	"article": "七",
	"item": 0,
} if {
	data.quanze.lib.capacity.role in auxiliary_roles
	"joint_meeting.participate" in data.quanze.lib.scope.actions
}

# R07-4: "讨论情况和意见应当全面记录，经参加会议的检察官签名后附卷保存".
_recording if {
	_acting_dept_head
	"joint_meeting.record_minutes" in data.quanze.lib.scope.actions
}

_meeting := object.get(_ctx, "joint_meeting", {})

grants contains {
	"action": "joint_meeting.record_minutes",
	"code": "convenor_records_minutes",
	"article": "七",
	"item": 0,
} if _recording

# The convenor, when the request names one (`context.joint_meeting.convened_by`).
denials contains {
	"action": "joint_meeting.record_minutes",
	"code": "not_meeting_convenor",
	"article": "七",
	"item": 0,
} if {
	_recording
	data.quanze.lib.capacity.named(_meeting.convened_by)
	_meeting.convened_by != input.subject.id
}

denials contains {
	"action": "joint_meeting.record_minutes",
	"code": "minutes_incomplete",
	"article": "七",
	"item": 0,
} if {
	_recording
	not _ctx.minutes_complete == true
}

denials contains {
	"action": "joint_meeting.record_minutes",
	"code": "minutes_not_signed_by_all",
	"article": "七",
	"item": 0,
} if {
	_recording
	not _ctx.signed_by_all_attendees == true
}

obligations contains {
	"action": "joint_meeting.record_minutes",
	"code": "file_minutes_with_case",
	"article": "七",
	"item": 0,
} if _recording
