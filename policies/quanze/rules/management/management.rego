# METADATA
# title: Accountability procedure and management of procuratorial power (三十五–四十四)
# description: |
#   三十五: inspection investigates a violation of duty and, with the chief's approval
#   (or a 四十六 delegate's), refers it to the disciplinary committee; the committee
#   only reviews and gives one of four opinions; the procuratorate decides whether to
#   discipline, after that opinion. 三十八: the staff member a decision concerns may
#   apply for review or appeal. 三十九: the procuratorate clarifies false accusations.
#   四十: case work runs in the business system (A41: an offline exception is flagged
#   for case-management review); case management supervises the procedure but never
#   decides or changes an opinion. 四十一: an incompetent rating lowers the grade; an
#   evaluation committee's finding of unfitness leads to exit from the quota (never a
#   department head's act). 四十二: quality review of closed cases. 四十三: every staff
#   member records and reports interference. 四十四: the procuratorate discloses,
#   but not content flagged national-security, data-security or privacy (A42).
package quanze.rules.management

import rego.v1

# Every entry carries its article (and item): the messages are merged separately.

# ---------------------------------------------------------------- grants by role

# Acts the text gives to a unit or body outright; conditions are denials below.
_role_grants := {
	# 三十五: "承担检务督察工作的部门经调查…报检察长批准后，提请检察官惩戒委员会审议".
	"inspection": {
		"accountability.investigate": {"code": "inspection_investigates_violation", "article": "三十五"},
		"accountability.refer_to_disciplinary_committee": {
			"code": "inspection_refers_to_disciplinary_committee",
			"article": "三十五",
		},
	},
	# 三十五: "检察官惩戒委员会审议后，提出…审查意见".
	"disciplinary_committee": {
		"disciplinary.review_opinion": {"code": "disciplinary_committee_issues_opinion", "article": "三十五"},
	},
	"procuratorate": {
		"disciplinary.decide": {"code": "procuratorate_decides_discipline", "article": "三十五"},
		"accusation.clarify": {"code": "procuratorate_clarifies_accusation", "article": "三十九"},
		"grade.lower": {"code": "lower_grade_of_incompetent_procurator", "article": "四十一"},
		"quota.exit": {"code": "exit_quota_of_unfit_procurator", "article": "四十一"},
		"quality.review": {"code": "review_quality_of_closed_cases", "article": "四十二"},
		# 四十一 "完善检察人员考核机制，综合考评办案数量、质量、效率、效果": the procuratorate assesses.
		"assessment.evaluate": {"code": "assess_staff_performance", "article": "四十一"},
		"info.disclose_party": {"code": "procuratorate_discloses_information", "article": "四十四"},
		"info.disclose_public": {"code": "procuratorate_discloses_information", "article": "四十四"},
	},
	# 四十一 (R41-1): the evaluation committee, with the procuratorate.
	"evaluation_committee": {
		"assessment.evaluate": {"code": "assess_staff_performance", "article": "四十一"},
		"grade.lower": {"code": "lower_grade_of_incompetent_procurator", "article": "四十一"},
		"quota.exit": {"code": "exit_quota_of_unfit_procurator", "article": "四十一"},
	},
	# 四十: "案件管理部门…实时、动态监督，发现问题的，应当提出意见，通报…或者移送本院检务督察部门".
	# 四十二 names no department; case management runs quality review (J).
	"case_management": {
		"case_management.monitor": {"code": "case_management_supervises_procedure", "article": "四十"},
		"case_management.raise_opinion": {"code": "case_management_supervises_procedure", "article": "四十"},
		"case_management.notify": {"code": "case_management_supervises_procedure", "article": "四十"},
		"case_management.refer_to_inspection": {"code": "case_management_supervises_procedure", "article": "四十"},
		"quality.review": {"code": "review_quality_of_closed_cases", "article": "四十二"},
	},
}

_role_acts contains act if {
	table := _role_grants[data.quanze.lib.capacity.role]
	some act in data.quanze.lib.scope.actions
	table[act]
}

grants contains entry if {
	table := _role_grants[data.quanze.lib.capacity.role]
	some act in _role_acts
	g := table[act]
	entry := object.union({"action": act, "item": 0}, g)
}

# 四十五: 检察人员 — the people (not units or bodies) of the procuratorate.
staff_roles := {
	"chief_procurator", "deputy_chief_procurator", "committee_member", "full_time_committee_member",
	"procurator", "department_head", "procurator_assistant", "clerk", "technical_staff", "judicial_police",
}

# ---------------------------------------------------------------- 三十五 referral and its approval

# Inspection's referral to the disciplinary committee, and the committee's review of it.
_disciplinary_acts := {"disciplinary.review_opinion", "accountability.refer_to_disciplinary_committee"}

# R35-2, 三十五 "报检察长批准后，提请检察官惩戒委员会审议": the referral, and the committee's review
# of it, need the approval of the chief of the matter's procuratorate, recorded with who approved;
# the directory must show the approver is that chief, or the registry a delegation of the
# approval (四十六).
denials contains {"action": act, "code": "referral_requires_chief_approval", "article": "三十五", "item": 0} if {
	not data.quanze.lib.capacity.chief_approval_recorded
	some act in _role_acts
	act in _disciplinary_acts
}

denials contains object.union({"action": act, "article": "三十五", "item": 0}, problem) if {
	some act in _role_acts
	act in _disciplinary_acts
	some problem in data.quanze.lib.capacity.approval_problems("accountability.approve_referral")
}

# 四十六: an approval given by the chief's delegate is cited as such.
grants contains {"action": act, "code": "approved_by_delegate", "article": "四十六", "item": 0} if {
	some act in _role_acts
	act == "accountability.refer_to_disciplinary_committee"
	data.quanze.lib.capacity.approved_by_delegate("accountability.approve_referral")
}

# "报检察长批准": the chief approves; 四十六: a deputy chief or full-time member whose
# delegation covers the approval approves as the chief would.
_approver_roles := {"chief_procurator"} | data.quanze.lib.delegation.holder_roles

_approvals contains act if {
	data.quanze.lib.capacity.role in _approver_roles
	some act in data.quanze.lib.scope.actions
	act == "accountability.approve_referral"
}

grants contains {"action": act, "code": "chief_approves_referral", "article": "三十五", "item": 0} if {
	data.quanze.lib.capacity.role == "chief_procurator"
	some act in _approvals
}

grants contains object.union(
	{"action": act, "code": "delegate_approves_for_chief", "article": "四十六", "item": 0},
	data.quanze.lib.delegation.delegated_by(act),
) if {
	some act in _approvals
	data.quanze.lib.delegation.covers(act)
}

prohibitions contains {"action": act, "code": "chief_power_not_delegated", "article": "四十六", "item": 0} if {
	data.quanze.lib.capacity.role in data.quanze.lib.delegation.holder_roles
	some act in _approvals
	not data.quanze.lib.delegation.covers(act)
}

# 二十五: approving a referral is an act of supervision, not a decision on a case (二十八 "就办案事项
# 作出的决定"): the approver answers supervisorily; a delegate's chief is named in its reason (A9).
accountable contains {
	"action": act,
	"subject_id": input.subject.id,
	"capacity": data.quanze.lib.capacity.role,
	"responsibility": "supervisory",
	"article": "二十五",
} if {
	some act in _approvals
	some grant in grants
	grant.action == act
}

# ---------------------------------------------------------------- 三十五 review and decision

# The four opinions the committee may give.
review_opinions := {"intentional", "gross_negligence", "ordinary_negligence", "no_violation"}

# R35-3: the opinion given in this act (context.review_opinion) must be one of the four.
denials contains {"action": act, "code": "review_opinion_not_recognised", "article": "三十五", "item": 0} if {
	opinion := object.get(data.quanze.lib.capacity.ctx, "review_opinion", null)
	not opinion in review_opinions
	some act in _role_acts
	act == "disciplinary.review_opinion"
}

# 三十五 "检察官惩戒委员会…对检察官的司法责任进行审查": the committee reviews, and inspection refers to
# it, the matters of procurators — the staff member named must be in the quota (directory).
denials contains {"action": act, "code": "disciplinary_matter_of_a_procurator_only", "article": "三十五", "item": 0} if {
	not _concerns_a_procurator
	some act in _role_acts
	act in _disciplinary_acts
}

# The person decided on (resource.properties.subject_of_decision) is a procurator of the
# procuratorate holding the matter, per the directory.
_concerns_a_procurator if {
	person := object.get(data.quanze.lib.capacity.resource_props, "subject_of_decision", "")
	data.quanze.lib.capacity.procurator_of_resource(person)
}

# R35-4: "检察官惩戒委员会提出审查意见后，人民检察院应当…作出是否予以惩戒的决定".
denials contains {"action": act, "code": "committee_opinion_required", "article": "三十五", "item": 0} if {
	opinion := object.get(data.quanze.lib.capacity.resource_props, "committee_opinion", null)
	not opinion in review_opinions
	some act in _role_acts
	act == "disciplinary.decide"
}

# R36-1, 三十六: sanctions follow the 《人民检察院司法责任追究条例》 and 《检察官惩戒工作程序规定》.
obligations contains {"action": act, "code": "apply_accountability_regulations", "article": "三十六", "item": 0} if {
	some act in _role_acts
	act == "disciplinary.decide"
}

# R35-5: the committee gives an opinion; it does not decide discipline.
prohibitions contains {"action": act, "code": "disciplinary_committee_cannot_decide", "article": "三十五", "item": 0} if {
	data.quanze.lib.capacity.role == "disciplinary_committee"
	some act in data.quanze.lib.scope.actions
	act == "disciplinary.decide"
}

# ---------------------------------------------------------------- 三十八 review and appeal

_contests := {"discipline.apply_review", "discipline.appeal"}

_concerns_subject if data.quanze.lib.capacity.resource_props.subject_of_decision == input.subject.id

grants contains {"action": act, "code": "staff_member_contests_decision", "article": "三十八", "item": 0} if {
	data.quanze.lib.capacity.role in staff_roles
	_concerns_subject
	some act in data.quanze.lib.scope.actions
	act in _contests
}

prohibitions contains {
	"action": act,
	"code": "only_subject_of_decision_may_contest",
	"condition": true,
	"article": "三十八",
	"item": 0,
} if {
	not _concerns_subject
	some act in data.quanze.lib.scope.actions
	act in _contests
}

# ---------------------------------------------------------------- 三十九 clarification

denials contains {"action": act, "code": "accusation_not_found_false", "article": "三十九", "item": 0} if {
	not data.quanze.lib.capacity.resource_props.accusation_found_false == true
	some act in _role_acts
	act == "accusation.clarify"
}

# "对检察人员诬告陷害的，应当依法予以追究".
obligations contains {"action": act, "code": "pursue_malicious_accuser", "article": "三十九", "item": 0} if {
	data.quanze.lib.capacity.resource_props.accusation_malicious == true
	some act in _role_acts
	act == "accusation.clarify"
}

# ---------------------------------------------------------------- 四十 online case work and case management

# R40-1: everyone runs case work in the business system.
grants contains {"action": act, "code": "record_case_work_online", "article": "四十", "item": 0} if {
	data.quanze.lib.capacity.named(data.quanze.lib.capacity.role)
	some act in data.quanze.lib.scope.actions
	act == "system.record_online"
}

# A41 "原则上": work done offline is recorded with a flag for case-management review.
obligations contains {
	"action": act,
	"code": "case_management_reviews_offline_exception",
	"article": "四十",
	"item": 0,
} if {
	data.quanze.lib.capacity.named(data.quanze.lib.capacity.role)
	data.quanze.lib.capacity.ctx.offline_exception == true
	some act in data.quanze.lib.scope.actions
	act == "system.record_online"
}

# R40-3: case management supervises the procedure; it neither decides nor changes opinions.
_case_management_decisions := data.quanze.rules.routing.decisive_actions | {"decision.procedural"}

prohibitions contains {"action": act, "code": "case_management_cannot_decide", "article": "四十", "item": 0} if {
	data.quanze.lib.capacity.role == "case_management"
	some act in data.quanze.lib.scope.actions
	act in _case_management_decisions
}

prohibitions contains {"action": act, "code": "case_management_cannot_change_opinion", "article": "四十", "item": 0} if {
	data.quanze.lib.capacity.role == "case_management"
	some act in data.quanze.lib.scope.actions
	act in {"opinion.edit", "opinion.demand_change"}
}

# ---------------------------------------------------------------- 四十一 grade and quota

# "年度考核不称职，应当降低检察官等级".
denials contains {"action": act, "code": "annual_rating_not_incompetent", "article": "四十一", "item": 0} if {
	not data.quanze.lib.capacity.resource_props.annual_rating == "incompetent"
	some act in _role_acts
	act == "grade.lower"
}

# "经检察官考评委员会认定不能胜任检察官职务的，应当按照程序退出检察官员额".
denials contains {
	"action": act,
	"code": "unfitness_not_found_by_evaluation_committee",
	"article": "四十一",
	"item": 0,
} if {
	not data.quanze.lib.capacity.resource_props.found_unfit_by_evaluation_committee == true
	some act in _role_acts
	act == "quota.exit"
}

# "降低检察官等级", "退出检察官员额": only a procurator has a grade and a quota place — the person
# decided on (resource.properties.subject_of_decision) is one of the procuratorate's, per the directory.
denials contains {"action": act, "code": "subject_of_decision_not_procurator", "article": "四十一", "item": 0} if {
	some act in _role_acts
	act in {"grade.lower", "quota.exit"}
	not _concerns_a_procurator
}

obligations contains {"action": act, "code": "follow_quota_exit_procedure", "article": "四十一", "item": 0} if {
	some act in _role_acts
	act == "quota.exit"
}

# R41-2: a department head assesses staff (二十三(8)) but does not remove them from the quota.
prohibitions contains {"action": act, "code": "dept_head_cannot_exit_quota", "article": "四十一", "item": 0} if {
	data.quanze.lib.capacity.role == "department_head"
	some act in data.quanze.lib.scope.actions
	act == "quota.exit"
}

# ---------------------------------------------------------------- 四十二 quality review

# "对检察官已经办结案件的质量进行检查评定".
denials contains {"action": act, "code": "case_not_closed", "article": "四十二", "item": 0} if {
	not data.quanze.lib.capacity.resource_props.case_closed == true
	some act in _role_acts
	act == "quality.review"
}

# "将案件质量评查结果作为评价检察官办案业绩的重要依据，纳入检察官考核管理体系".
obligations contains {"action": act, "code": "feed_quality_results_into_assessment", "article": "四十二", "item": 0} if {
	some act in _role_acts
	act == "quality.review"
}

# ---------------------------------------------------------------- 四十三 interference

# R37-1, R43-1, 三十七, 四十三: inquiries, interference, meddling and improper contacts.
interference_events := {"inquiry", "interference", "meddling", "improper_contact"}

_interference_acts contains act if {
	data.quanze.lib.capacity.role in staff_roles
	some act in data.quanze.lib.scope.actions
	act == "interference.record_report"
}

grants contains {"action": act, "code": "staff_records_interference", "article": "四十三", "item": 0} if {
	some act in _interference_acts
}

denials contains {"action": act, "code": "interference_event_not_stated", "article": "四十三", "item": 0} if {
	event := object.get(data.quanze.lib.capacity.ctx, ["event", "type"], null)
	not event in interference_events
	some act in _interference_acts
}

obligations contains {"action": act, "code": "record_and_report_interference", "article": "四十三", "item": 0} if {
	some act in _interference_acts
}

# ---------------------------------------------------------------- 四十四 disclosure

# A42: content flagged for these interests is not disclosed unless a specific rule allows it.
protected_content := {
	"national_security": "disclosure_endangers_national_security",
	"data_security": "disclosure_endangers_data_security",
	"personal_privacy": "disclosure_exposes_personal_privacy",
}

_disclosures contains act if {
	some act in _role_acts
	act in {"info.disclose_party", "info.disclose_public"}
}

denials contains {"action": act, "code": code, "article": "四十四", "item": 0} if {
	flags := object.get(data.quanze.lib.capacity.resource_props, "content_flags", [])
	is_array(flags)
	some flag in flags
	code := protected_content[flag]
	some act in _disclosures
}

# 四十四, A42: a case that itself involves national security (十一(1)) is not disclosed either,
# whatever flags its content carries.
denials contains {"action": act, "code": "disclosure_endangers_national_security", "article": "四十四", "item": 0} if {
	data.quanze.lib.capacity.resource_props.involves_national_security == true
	some act in _disclosures
}

obligations contains {"action": act, "code": "disclose_within_prescribed_scope", "article": "四十四", "item": 0} if {
	some act in _disclosures
}
