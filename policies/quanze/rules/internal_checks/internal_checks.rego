# METADATA
# title: Internal checks and supervision (二十一–二十五, with 四, 八, 三十, 三十二, 四十六)
# description: |
#   二十一: a higher procuratorate — any ancestor in the directory, the SPP included
#   (A29) — orders a lower one to correct a wrong decision, or revokes or modifies its
#   decision; the directive is decided by the higher procuratorate's chief or committee and
#   made in the procuratorate's name. Never upward, sideways or within one procuratorate.
#   二十二: the chief (or a 四十六 delegate) reviews matters decided within procurator power,
#   requires re-examination, refers cases to the committee, requires reports, and requires
#   explanations in the five listed circumstances only (A28). Anyone else in the chain goes
#   through the chief to reach the committee (八, R08-4).
#   A7 (四, 二十五, 三十): a deputy chief or full-time committee member reviews, requires
#   re-examination and requires reports within the departments they supervise.
#   Department heads, who must hold procurator status (四十五), review with the
#   chief's authorisation: cases going to the committee or the chief or to be
#   reported to the chief (二十三(1)), and key legal documents within the review
#   scope the procuratorate fixes (二十三(2)). While reviewing they may require
#   re-examination or supplementary materials but never change a procurator's
#   opinion or require it changed (二十四). They convene joint meetings
#   (二十三(3), 七) and report to the chief with the procurator's own opinion
#   attached; when the procurator's opinion differs from the joint meeting's
#   majority, the report is a duty (二十四). Over their own department they run
#   routine checks, urge execution of decisions, propose corrections and follow them
#   up, report procurators' performance and assess the staff (二十三(4)–(8)).
#   Supervisors answer for supervision (二十五); after a required re-examination the
#   supervisor answers supervisorily and the procurators judicially (三十).
package quanze.rules.internal_checks

import rego.v1

# Supervisory acts of a department head on a case.
dept_head_acts := {
	"opinion.review",
	"case.order_reexamination",
	"case.request_supplementary_materials",
	"joint_meeting.convene",
	"case.report_to_chief",
	"case.routine_check",
	"decision.urge_execution",
	"correction.propose",
	"performance.report",
	"staff.assess",
}

# 二十三(4)–(8): the department head's standing supervisory duties, each with its item.
# R23-9, 二十三(9) "由业务部门负责人履行的其他职责" is the extension point: a duty another rule or
# the procuratorate gives department heads gets its catalog action, an entry here (and in
# dept_head_acts), and a message; the department and procurator-status conditions then apply.
supervision_duties := {
	"case.routine_check": {"code": "dept_head_routine_check", "item": 4},
	"decision.urge_execution": {"code": "dept_head_urges_execution", "item": 5},
	"correction.propose": {"code": "dept_head_proposes_correction", "item": 6},
	"performance.report": {"code": "dept_head_reports_performance", "item": 7},
	"staff.assess": {"code": "dept_head_assesses_staff", "item": 8},
}

# 二十四 "审核案件或者重要法律文书时，可以要求…": these exist only within a review.
review_acts := {"opinion.review", "case.order_reexamination", "case.request_supplementary_materials"}

# 二十四: a reviewer may never change the procurator's opinion, nor require it changed.
opinion_changes := {"opinion.edit", "opinion.demand_change"}

# The authorisation a review needs and the item that grants it, by what is reviewed.
review_authorizations := {
	"case": {"authorization": "review.escalated_cases", "item": 1},
	"legal_document": {"authorization": "review.legal_documents", "item": 2},
}

review_object := "legal_document" if input.resource.type == "legal_document"

review_object := object.get(data.quanze.lib.capacity.resource_props, "review_object", "case") if {
	input.resource.type != "legal_document"
}

_review_item := object.get(review_authorizations, [review_object, "item"], 1)

_acting_dept_head if data.quanze.lib.capacity.role == "department_head"

_acts contains act if {
	_acting_dept_head
	some act in data.quanze.lib.scope.actions
	act in dept_head_acts
}

_reviewing contains act if {
	some act in _acts
	act in review_acts
}

# ---------------------------------------------------------------- grants

grants contains {"action": "opinion.review", "code": "dept_head_review", "item": _review_item} if {
	"opinion.review" in _acts
}

grants contains {"action": "case.order_reexamination", "code": "dept_head_order_reexamination"} if {
	"case.order_reexamination" in _acts
}

grants contains {"action": "case.request_supplementary_materials", "code": "dept_head_request_materials"} if {
	"case.request_supplementary_materials" in _acts
}

grants contains {"action": "joint_meeting.convene", "code": "dept_head_convene_joint_meeting"} if {
	"joint_meeting.convene" in _acts
}

# 二十四 when the head disagrees with the procurator (or the meeting's majority did);
# otherwise the ordinary route of a chief matter (八).
grants contains {"action": "case.report_to_chief", "code": "dept_head_report_disagreement"} if {
	"case.report_to_chief" in _acts
	disagreement
}

grants contains {"action": "case.report_to_chief", "code": "dept_head_forward_to_chief"} if {
	"case.report_to_chief" in _acts
	not disagreement
}

# 二十三(4)–(8).
grants contains {"action": act, "code": duty.code, "article": "二十三", "item": duty.item} if {
	some act in _acts
	duty := supervision_duties[act]
}

# ---------------------------------------------------------------- conditions

# 四十五: "具有检察官身份的部门正职、副职".
denials contains {"action": act, "code": "dept_head_requires_procurator_status"} if {
	some act in _acts
	not data.quanze.lib.capacity.holds_procurator_status
}

denials contains {"action": act, "code": "outside_own_department"} if {
	some act in _acts
	act != "staff.assess"
	not data.quanze.lib.capacity.same_department
}

# 二十三(8) "本部门检察人员": the person assessed (resource.subject_of_decision) works in the head's
# department, as the directory records it — not as the request labels the record.
denials contains {
	"action": "staff.assess",
	"code": "assess_own_department_staff_only",
	"article": "二十三",
	"item": 8,
} if {
	"staff.assess" in _acts
	not _assessed_in_own_department
}

_assessed_in_own_department if {
	person := data.quanze.lib.capacity.resource_props.subject_of_decision
	pid := data.quanze.lib.capacity.resource_procuratorate
	some role in data.quanze.lib.directory.offices(person, pid)
	data.quanze.lib.directory.office(person, role, pid).department == data.quanze.lib.directory.department
}

# 二十三(1)(2), A5: the chief's authorisation, as the registry (or, with it off, a verified
# grant the request carries) shows it for this case.
denials contains {"action": act, "code": "review_not_authorized", "item": _review_item} if {
	some act in _reviewing
	needed := object.get(review_authorizations, [review_object, "authorization"], "")
	not data.quanze.lib.delegation.authorized(needed)
}

# 二十三(1), A22: only cases for the committee or the chief, or to be reported to the chief — as
# a case is once the joint meeting's majority disagreed with its procurator (二十四). The head's
# own disagreement arises in a review (二十四 "审核案件…时"); it cannot open one.
denials contains {"action": act, "code": "review_outside_escalated_cases"} if {
	some act in _reviewing
	review_object == "case"
	not data.quanze.lib.matters.for_chief_or_committee
	not data.quanze.lib.matters.majority_disagrees
}

# 二十三(2), A23: documents within the review scope the procuratorate fixed.
denials contains {"action": act, "code": "document_outside_review_scope"} if {
	some act in _reviewing
	review_object == "legal_document"
	not data.quanze.lib.capacity.ctx.within_review_scope == true
}

# A6: a department head named as handling the case may not review it.
denials contains {"action": act, "code": "no_self_review", "item": _review_item} if {
	some act in _reviewing
	data.quanze.lib.capacity.involved_in_case
}

# 八, 二十三(1): a head forwards a case to the chief with its review, which needs the chief's
# authorisation — except the report 二十四 makes a duty after a joint meeting's majority disagreed.
denials contains {"action": "case.report_to_chief", "code": "review_not_authorized", "item": 1} if {
	"case.report_to_chief" in _acts
	not data.quanze.lib.matters.majority_disagrees
	not data.quanze.lib.delegation.authorized("review.escalated_cases")
}

denials contains {"action": "case.report_to_chief", "code": "report_must_attach_procurator_opinion"} if {
	"case.report_to_chief" in _acts
	not "procurator_opinion" in object.get(data.quanze.lib.capacity.ctx, "attached", [])
}

# 二十四 "不得直接改变检察官意见或者要求检察官改变意见" — unless the head is the opinion's own
# author, handling the case as its sole or lead procurator (A24).
prohibitions contains {"action": act, "code": "dept_head_cannot_change_opinion"} if {
	_acting_dept_head
	not data.quanze.lib.capacity.decides_as_handler
	some act in data.quanze.lib.scope.actions
	act in opinion_changes
}

# ---------------------------------------------------------------- disagreement (二十四)

# The head disagrees with the procurator and says so, or the joint meeting's majority did.
disagreement if data.quanze.lib.capacity.ctx.disagreement == true

disagreement if data.quanze.lib.matters.majority_disagrees

# ---------------------------------------------------------------- obligations

obligations contains {"action": "opinion.review", "code": "review_must_not_change_opinion"} if {
	"opinion.review" in _acts
}

obligations contains {"action": "joint_meeting.convene", "code": "sign_and_file_minutes"} if {
	"joint_meeting.convene" in _acts
}

obligations contains {"action": "case.report_to_chief", "code": "attach_procurator_opinion"} if {
	"case.report_to_chief" in _acts
}

obligations contains {"action": "case.report_to_chief", "code": "mandatory_report_after_joint_meeting"} if {
	"case.report_to_chief" in _acts
	data.quanze.lib.matters.majority_disagrees
}

# 二十三(6) "提出纠正意见，并督促整改".
obligations contains {
	"action": "correction.propose",
	"code": "follow_up_rectification",
	"article": "二十三",
	"item": 6,
} if {
	"correction.propose" in _acts
}

# ---------------------------------------------------------------- responsibility (§5)

# P16, P17: the head answers for supervision (二十五) — where at fault — not for the decision.
accountable contains {
	"action": act,
	"subject_id": input.subject.id,
	"capacity": "department_head",
	"responsibility": "supervisory",
	"article": "二十五",
} if {
	some act in _acts
	act != "case.order_reexamination"
}

# P9 (三十): after a required re-examination, the head answers supervisorily and the
# handling procurators judicially for a changed decision, each where at fault.
accountable contains {
	"action": "case.order_reexamination",
	"subject_id": input.subject.id,
	"capacity": "department_head",
	"responsibility": "supervisory",
	"article": "三十",
} if {
	"case.order_reexamination" in _acts
}

accountable contains {
	"action": "case.order_reexamination",
	"subject_id": procurator,
	"capacity": "handling_procurator",
	"responsibility": "judicial",
	"article": "三十",
} if {
	"case.order_reexamination" in _acts
	some procurator in data.quanze.lib.capacity.handling_procurators
}

# P3 (二十八): a matter reported to the chief is the chief's decision.
accountable contains {
	"action": "case.report_to_chief",
	"subject_id": "",
	"capacity": "chief_procurator",
	"responsibility": "judicial",
	"article": "二十八",
} if {
	"case.report_to_chief" in _acts
}

# ================================================================ 二十一: higher over lower procuratorates

# 二十一: "上级人民检察院可以指令下级人民检察院纠正错误决定，或者依法撤销、变更下级人民检察院
# 对案件的决定". These acts are of catalog group inter_procuratorate, so the common
# same-procuratorate rule leaves them to the hierarchy checks here.
directive_acts := {"directive.order_correction", "decision.revoke_lower", "decision.modify_lower"}

# Procuratorial personnel, and the committee, of the issuing procuratorate carry a directive
# into the system; the directive itself must be decided by its chief or committee (below).
directive_roles := {
	"chief_procurator", "deputy_chief_procurator", "full_time_committee_member",
	"committee_member", "committee", "department_head", "procurator",
}

# 二十一 "应当由检察长或者检察委员会决定" (context.decided_by), "以人民检察院的名义作出"
# (context.issued_in_name_of == "procuratorate").
directive_deciders := {"chief", "committee"}

_directives contains act if {
	data.quanze.lib.capacity.role in directive_roles
	some act in data.quanze.lib.scope.actions
	act in directive_acts
}

ancestors(node) := data.quanze.lib.directory.ancestors(node)

# The procuratorate the directive is aimed at: the one holding the case, else the one named.
directive_target := data.quanze.lib.capacity.resource_props.procuratorate if {
	data.quanze.lib.capacity.named(data.quanze.lib.capacity.resource_props.procuratorate)
}

directive_target := data.quanze.lib.capacity.ctx.target_procuratorate if {
	not data.quanze.lib.capacity.named(data.quanze.lib.capacity.resource_props.procuratorate)
	data.quanze.lib.capacity.named(data.quanze.lib.capacity.ctx.target_procuratorate)
}

# The issuing procuratorate: the subject's, as the directory confirms it.
_issuer := data.quanze.lib.directory.home_id

default issuer_is_higher := false

default issuer_is_lower := false

default issuer_is_target := false

# A29: any ancestor, the SPP included.
issuer_is_higher if {
	not _issuer == directive_target
	targets_ancestors := ancestors(directive_target)
	_issuer in targets_ancestors
}

issuer_is_lower if {
	not _issuer == directive_target
	issuers_ancestors := ancestors(_issuer)
	directive_target in issuers_ancestors
}

issuer_is_target if _issuer == directive_target

grants contains {"action": act, "code": "higher_procuratorate_directive", "article": "二十一"} if {
	some act in _directives
}

denials contains {"action": act, "code": "directive_within_own_procuratorate", "article": "二十一"} if {
	issuer_is_target
	some act in _directives
}

# R21-3: the power runs downward only.
# Checked on its own: a cycle in the data (each above the other) fails closed here.
denials contains {"action": act, "code": "directive_to_higher_procuratorate", "article": "二十一"} if {
	issuer_is_lower
	some act in _directives
}

# A29: a procuratorate outside the issuer's chain (sideways, or unknown to the hierarchy).
denials contains {"action": act, "code": "directive_outside_hierarchy_chain", "article": "二十一"} if {
	not issuer_is_higher
	not issuer_is_lower
	not issuer_is_target
	some act in _directives
}

# R21-2: staff acting alone (or anyone but the chief or committee) cannot decide a directive.
denials contains {"action": act, "code": "directive_not_decided_by_chief_or_committee", "article": "二十一"} if {
	not data.quanze.lib.capacity.ctx.decided_by in directive_deciders
	some act in _directives
}

denials contains {"action": act, "code": "directive_not_in_procuratorate_name", "article": "二十一"} if {
	not data.quanze.lib.capacity.ctx.issued_in_name_of == "procuratorate"
	some act in _directives
}

# The target named in the context must be the procuratorate that holds the case.
denials contains {"action": act, "code": "directive_target_not_case_procuratorate", "article": "二十一"} if {
	data.quanze.lib.capacity.named(data.quanze.lib.capacity.ctx.target_procuratorate)
	data.quanze.lib.capacity.named(data.quanze.lib.capacity.resource_props.procuratorate)
	not data.quanze.lib.capacity.ctx.target_procuratorate == data.quanze.lib.capacity.resource_props.procuratorate
	some act in _directives
}

# 二十一 "应当由检察长或者检察委员会决定": who decided (context.decider) must be the issuing
# procuratorate's chief, or its committee, as the directory shows. The chief or the committee
# issuing the directive in person need not name themselves.
_decider := data.quanze.lib.capacity.ctx.decider if data.quanze.lib.capacity.named(data.quanze.lib.capacity.ctx.decider)

_decider := input.subject.id if {
	not data.quanze.lib.capacity.named(data.quanze.lib.capacity.ctx.decider)
	_decider_capacities[data.quanze.lib.capacity.ctx.decided_by] == data.quanze.lib.capacity.role
}

_decider_capacities := {"chief": "chief_procurator", "committee": "committee"}

_expected_decider := data.quanze.lib.directory.chief_of(_issuer) if data.quanze.lib.capacity.ctx.decided_by == "chief"

_expected_decider := data.quanze.lib.directory.body_id("committee", _issuer) if {
	data.quanze.lib.capacity.ctx.decided_by == "committee"
}

default _decider_verified := false

_decider_verified if _decider == _expected_decider

denials contains {
	"action": act,
	"code": "directive_decider_not_verified",
	"article": "二十一",
	"detail_zh": sprintf(
		"名录：%s 的%s为 %s；请求称由 %s 决定",
		[_issuer, _decider_zh[data.quanze.lib.capacity.ctx.decided_by], _expected_or_none, _decider_or_none],
	),
	"detail_en": sprintf(
		"per the directory the %s of %s is %s; the request names %s",
		[data.quanze.lib.capacity.ctx.decided_by, _issuer, _expected_or_none, _decider_or_none],
	),
} if {
	data.quanze.lib.capacity.ctx.decided_by in directive_deciders
	_decider_verified == false
	some act in _directives
}

_decider_zh := {"chief": "检察长", "committee": "检察委员会"}

# 三 (R03-2): a committee composed against 三 decides no directive either.
denials contains {"action": act, "code": "committee_composition_invalid", "article": "三"} if {
	data.quanze.lib.capacity.ctx.decided_by == "committee"
	not data.quanze.lib.directory.committee_composition_valid(_issuer)
	some act in _directives
}

default _expected_or_none := "none"

_expected_or_none := _expected_decider

default _decider_or_none := "no one"

_decider_or_none := _decider

# P14 (三十二) "由上级人民检察院有关人员就改变部分负责": the higher procuratorate's decider answers
# for the part it changed — the chief by id; the committee's members by capacity (二十七).
accountable contains {
	"action": act,
	"subject_id": _directive_decider_id,
	"capacity": _directive_decider_capacity[data.quanze.lib.capacity.ctx.decided_by],
	"responsibility": "judicial",
	"article": "三十二",
} if {
	some act in _directives
}

_directive_decider_capacity := {"chief": "chief_procurator", "committee": "committee_member"}

_directive_decider_id := _decider if data.quanze.lib.capacity.ctx.decided_by == "chief"

_directive_decider_id := "" if data.quanze.lib.capacity.ctx.decided_by == "committee"

# P15 (三十二): the lower procuratorate's handling procurators answer only where the request says
# they concealed or distorted facts, or through gross negligence left out important ones, so that
# the higher procuratorate decided wrongly. The higher personnel answer besides where they were at
# fault themselves, reading "故意和重大过失" as "or" (A30), as 二十六 and 三十 do; that fault is
# not known when the directive is issued, so it is not labelled here.
accountable contains {
	"action": act,
	"subject_id": procurator,
	"capacity": "handling_procurator",
	"responsibility": "judicial",
	"article": "三十二",
} if {
	data.quanze.lib.capacity.reporting_fault
	some act in _directives
	some procurator in data.quanze.lib.capacity.handling_procurators
}

# ================================================================ 二十二: the chief's review and supervision

# 二十二, with 八 for the referral; 四十六 lets a delegate exercise each of them.
chief_supervisory_acts := {
	"opinion.review", "case.order_reexamination", "case.refer_to_committee",
	"case.request_report", "case.demand_explanation",
}

# A7 (四, 二十五, 三十): what a deputy chief or full-time member does in their own right,
# within the departments they supervise (subject.properties.supervises_departments).
area_supervisory_acts := {"opinion.review", "case.order_reexamination", "case.request_report"}

# R08-4 (八 "报检察长提请检察委员会讨论决定"): others in the chain reach the committee through the chief.
referral_roles := {
	"procurator", "department_head", "deputy_chief_procurator",
	"full_time_committee_member", "committee_member",
}

_acting_chief if data.quanze.lib.capacity.role == "chief_procurator"


_acting_leader if data.quanze.lib.capacity.role in data.quanze.lib.delegation.holder_roles

_chief_acts contains act if {
	_acting_chief
	some act in data.quanze.lib.scope.actions
	act in chief_supervisory_acts
}

# 四十六: a deputy chief or full-time member whose delegation covers the act acts as the chief.
_delegated contains act if {
	_acting_leader
	some act in data.quanze.lib.scope.actions
	act in chief_supervisory_acts
	data.quanze.lib.delegation.covers(act)
}

_as_chief := _chief_acts | _delegated

# A7: acts a leader does in their own right (a covering delegation takes precedence).
_area_acts contains act if {
	_acting_leader
	some act in data.quanze.lib.scope.actions
	act in area_supervisory_acts
	not act in _delegated
}

# A7: the departments the directory says the leader supervises.
_in_supervised_area if {
	department := data.quanze.lib.capacity.resource_props.department
	data.quanze.lib.capacity.named(department)
	department in data.quanze.lib.directory.supervises_departments
}

# 二十二(1)–(5), A28: the stated circumstance, as the item it cites.
_circumstance := item if {
	some item in [1, 2, 3, 4, 5]
	item == data.quanze.lib.capacity.ctx.circumstance
}

# R22-1: "检察长可以对检察官职权范围内决定的案件或者办案事项进行审核"; a matter that goes to
# the chief anyway comes to the chief for decision under 八.
grants contains {"action": "opinion.review", "code": "chief_reviews_procurator_decision", "article": "二十二"} if {
	"opinion.review" in _as_chief
	not data.quanze.lib.matters.for_chief_or_committee
}

grants contains {"action": "opinion.review", "code": "chief_reviews_reported_matter", "article": "八"} if {
	"opinion.review" in _as_chief
	data.quanze.lib.matters.for_chief_or_committee
}

# R22-2.
grants contains {"action": "case.order_reexamination", "code": "chief_orders_reexamination", "article": "二十二"} if {
	"case.order_reexamination" in _as_chief
}

# R22-2, R08-3.
grants contains {"action": "case.refer_to_committee", "code": "chief_refers_to_committee", "article": "二十二"} if {
	"case.refer_to_committee" in _as_chief
}

# R22-3: no condition.
grants contains {"action": "case.request_report", "code": "chief_requests_report", "article": "二十二"} if {
	"case.request_report" in _as_chief
}

# R22-4: only in a listed circumstance, which the reason cites as its item.
grants contains {
	"action": "case.demand_explanation",
	"code": "chief_demands_explanation",
	"article": "二十二",
	"item": item,
} if {
	"case.demand_explanation" in _as_chief
	item := _circumstance
}

# 四十六: the delegate's authority, beside the power exercised.
grants contains object.union(
	{"action": act, "code": "delegate_acts_for_chief", "article": "四十六"},
	data.quanze.lib.delegation.delegated_by(act),
) if {
	some act in _delegated
}

# A7: a leader's own supervisory acts within their area.
grants contains {"action": act, "code": "leader_supervises_department", "article": "四"} if {
	_in_supervised_area
	some act in _area_acts
}

# Prohibitions here fully explain the missing grant, so no "not granted" is added.

# R22-4, A28: no listed circumstance, no demand for an explanation.
prohibitions contains {
	"action": "case.demand_explanation",
	"code": "explanation_requires_circumstance",
	"condition": true,
	"article": "二十二",
} if {
	"case.demand_explanation" in _as_chief
	not _circumstance
}

# A7: outside the departments they supervise a leader needs the chief's delegation.
prohibitions contains {"action": act, "code": "outside_supervised_departments", "condition": true, "article": "四"} if {
	not _in_supervised_area
	some act in _area_acts
}

# R04-2, 四十六: demanding explanations is the chief's own power.
prohibitions contains {
	"action": "case.demand_explanation",
	"code": "chief_power_requires_delegation",
	"article": "四十六",
} if {
	_acting_leader
	"case.demand_explanation" in data.quanze.lib.scope.actions
	not "case.demand_explanation" in _delegated
}

# R08-4: a procurator, department head or undelegated leader refers through the chief.
escalations contains {
	"action": "case.refer_to_committee",
	"to": "chief",
	"code": "refer_through_chief",
	"article": "八",
} if {
	data.quanze.lib.capacity.role in referral_roles
	"case.refer_to_committee" in data.quanze.lib.scope.actions
	not "case.refer_to_committee" in _delegated
}

# R08-3, A5: a matter that must reach the chief reaches the committee after the department
# head's review, or with the reason there was none.
obligations contains {"action": "case.refer_to_committee", "code": "record_department_head_review", "article": "八"} if {
	"case.refer_to_committee" in _as_chief
	data.quanze.lib.matters.for_chief_or_committee
	not data.quanze.lib.capacity.ctx.department_head_review_done == true
}

# A28: the demand records the circumstance relied on (item 5 with a description).
obligations contains {
	"action": "case.demand_explanation",
	"code": "record_explanation_circumstance",
	"article": "二十二",
} if {
	"case.demand_explanation" in _as_chief
}

# P16 (二十五): the chief, a delegate or a leader answers supervisorily for how they supervise.
accountable contains {
	"action": act,
	"subject_id": input.subject.id,
	"capacity": data.quanze.lib.capacity.role,
	"responsibility": "supervisory",
	"article": "二十五",
} if {
	some act in _as_chief | _area_acts
	act != "case.order_reexamination"
}

# P9 (三十): after re-examination required by the chief, a deputy chief or a full-time
# member, they answer supervisorily and the handling procurators judicially, each where at fault.
accountable contains {
	"action": "case.order_reexamination",
	"subject_id": input.subject.id,
	"capacity": data.quanze.lib.capacity.role,
	"responsibility": "supervisory",
	"article": "三十",
} if {
	"case.order_reexamination" in (_as_chief | _area_acts)
}

accountable contains {
	"action": "case.order_reexamination",
	"subject_id": procurator,
	"capacity": "handling_procurator",
	"responsibility": "judicial",
	"article": "三十",
} if {
	"case.order_reexamination" in (_as_chief | _area_acts)
	some procurator in data.quanze.lib.capacity.handling_procurators
}
