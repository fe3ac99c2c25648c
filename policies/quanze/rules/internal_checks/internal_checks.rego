# METADATA
# title: Internal checks and supervision (二十一–二十五)
# description: |
#   Department heads review cases and key legal documents when the chief has
#   authorised them (二十三(1)(2)); while reviewing they may require
#   re-examination or supplementary materials but never change a procurator's
#   opinion or require it changed (二十四). On disagreement they may convene a
#   joint meeting or report to the chief with the procurator's own opinion
#   attached; when the procurator's opinion differs from the joint meeting's
#   majority, the report to the chief is mandatory (二十四).
package quanze.rules.internal_checks

import rego.v1

import data.quanze.lib.capacity
import data.quanze.lib.scope

# Supervisory acts of a department head on a case, with the granting article and item.
dept_head_acts := {
	"opinion.review": {"code": "dept_head_review", "article": "二十三", "item": 1},
	"case.order_reexamination": {"code": "dept_head_order_reexamination", "article": "二十四", "item": 0},
	"case.request_supplementary_materials": {"code": "dept_head_request_materials", "article": "二十四", "item": 0},
	"joint_meeting.convene": {"code": "dept_head_convene_joint_meeting", "article": "二十三", "item": 3},
	"case.report_to_chief": {"code": "dept_head_report_to_chief", "article": "二十四", "item": 0},
}

# 二十四: a reviewer may never change the procurator's opinion, nor require it changed.
opinion_changes := {"opinion.edit", "opinion.demand_change"}

# The authorisation a review needs, by what is reviewed (二十三(1) cases, 二十三(2) documents).
review_authorizations := {
	"case": {"authorization": "review.escalated_cases", "item": 1},
	"legal_document": {"authorization": "review.legal_documents", "item": 2},
}

_acting_dept_head if capacity.role == "department_head"

_acts contains act if {
	_acting_dept_head
	some act in scope.actions
	dept_head_acts[act]
}

review_object := object.get(capacity.resource_props, "review_object", "case")

grants contains {"action": act, "code": g.code, "article": g.article, "item": g.item} if {
	some act in _acts
	act != "opinion.review"
	g := dept_head_acts[act]
}

grants contains {"action": "opinion.review", "code": "dept_head_review", "item": review_authorizations[review_object].item} if {
	"opinion.review" in _acts
}

denials contains {"action": act, "code": "outside_own_department"} if {
	some act in _acts
	not capacity.same_department
}

denials contains {"action": "opinion.review", "code": "review_not_authorized", "item": item} if {
	"opinion.review" in _acts
	needed := object.get(review_authorizations, review_object, {"authorization": "", "item": 0})
	not needed.authorization in object.get(capacity.subject_props, "authorizations", [])
	item := needed.item
}

# A6: a department head who handles the case may not review it.
denials contains {"action": "opinion.review", "code": "no_self_review"} if {
	"opinion.review" in _acts
	"handling_procurator" in capacity.case_roles
}

denials contains {"action": "case.report_to_chief", "code": "report_must_attach_procurator_opinion"} if {
	"case.report_to_chief" in _acts
	not "procurator_opinion" in object.get(capacity.ctx, "attached", [])
}

prohibitions contains {"action": act, "code": "dept_head_cannot_change_opinion"} if {
	_acting_dept_head
	some act in scope.actions
	act in opinion_changes
}

obligations contains {"action": "opinion.review", "code": "review_must_not_change_opinion"} if {
	"opinion.review" in _acts
}

obligations contains {"action": act, "code": "sign_and_file_minutes"} if {
	some act in _acts
	act == "joint_meeting.convene"
}

obligations contains {"action": "case.report_to_chief", "code": "attach_procurator_opinion"} if {
	"case.report_to_chief" in _acts
}

# 二十四: the procurator disagrees with the joint meeting's majority, so the report is a duty.
obligations contains {"action": "case.report_to_chief", "code": "mandatory_report_after_joint_meeting"} if {
	"case.report_to_chief" in _acts
	majority_disagrees
}

majority_disagrees if {
	meeting := capacity.ctx.joint_meeting
	meeting.held == true
	is_string(meeting.majority_opinion)
	meeting.majority_opinion != meeting.procurator_opinion
}

# A department head answers for supervision, not for the decision (二十五; 三十 for re-examination).
accountable contains {
	"action": act,
	"subject_id": input.subject.id,
	"capacity": "department_head",
	"responsibility": "supervisory",
	"article": _supervision_article(act),
} if {
	some act in _acts
}

_supervision_article(act) := "三十" if act == "case.order_reexamination"

_supervision_article(act) := "二十五" if act != "case.order_reexamination"
