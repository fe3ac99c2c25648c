# METADATA
# title: Internal checks and supervision (二十一–二十五)
# description: |
#   Department heads, who must hold procurator status (四十五), review with the
#   chief's authorisation: cases going to the committee or the chief or to be
#   reported to the chief (二十三(1)), and key legal documents within the review
#   scope the procuratorate fixes (二十三(2)). While reviewing they may require
#   re-examination or supplementary materials but never change a procurator's
#   opinion or require it changed (二十四). They convene joint meetings
#   (二十三(3), 七) and report to the chief with the procurator's own opinion
#   attached; when the procurator's opinion differs from the joint meeting's
#   majority, the report is a duty (二十四).
package quanze.rules.internal_checks

import rego.v1

import data.quanze.lib.capacity
import data.quanze.lib.matters
import data.quanze.lib.scope

# Supervisory acts of a department head on a case.
dept_head_acts := {
	"opinion.review",
	"case.order_reexamination",
	"case.request_supplementary_materials",
	"joint_meeting.convene",
	"case.report_to_chief",
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

review_object := object.get(capacity.resource_props, "review_object", "case") if {
	input.resource.type != "legal_document"
}

_review_item := object.get(review_authorizations, [review_object, "item"], 1)

_acting_dept_head if capacity.role == "department_head"

_acts contains act if {
	_acting_dept_head
	some act in scope.actions
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

# ---------------------------------------------------------------- conditions

# 四十五: "具有检察官身份的部门正职、副职".
denials contains {"action": act, "code": "dept_head_requires_procurator_status"} if {
	some act in _acts
	not capacity.holds_procurator_status
}

denials contains {"action": act, "code": "outside_own_department"} if {
	some act in _acts
	not capacity.same_department
}

denials contains {"action": act, "code": "review_not_authorized", "item": _review_item} if {
	some act in _reviewing
	needed := object.get(review_authorizations, [review_object, "authorization"], "")
	not needed in object.get(capacity.subject_props, "authorizations", [])
}

# 二十三(1), A22: only cases for the committee or the chief, or to be reported to the chief.
denials contains {"action": act, "code": "review_outside_escalated_cases"} if {
	some act in _reviewing
	review_object == "case"
	not matters.for_chief_or_committee
	not disagreement
}

# 二十三(2), A23: documents within the review scope the procuratorate fixed.
denials contains {"action": act, "code": "document_outside_review_scope"} if {
	some act in _reviewing
	review_object == "legal_document"
	not capacity.ctx.within_review_scope == true
}

# A6: a department head named as handling the case may not review it.
denials contains {"action": act, "code": "no_self_review", "item": _review_item} if {
	some act in _reviewing
	capacity.involved_in_case
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

# ---------------------------------------------------------------- disagreement (二十四)

# The head disagrees with the procurator and says so, or the joint meeting's majority did.
disagreement if capacity.ctx.disagreement == true

disagreement if matters.majority_disagrees

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
	matters.majority_disagrees
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
	some procurator in capacity.handling_procurators
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
