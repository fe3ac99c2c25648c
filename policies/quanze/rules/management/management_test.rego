package quanze.rules.management_test

import rego.v1

import data.quanze.authz
import data.quanze.rules.management
import data.quanze.testlib as t

# Units and bodies act under their directory ids; the procuratorate acts as itself.
unit(id, role) := {
	"type": "unit",
	"id": id,
	"properties": {"role": role, "roles": [role], "procuratorate": "PROC-CITY-A"},
}

inspection := unit("insp-A", "inspection")

case_management := unit("cm-A", "case_management")

procuratorate := unit("PROC-CITY-A", "procuratorate")

evaluation_committee := unit("eval-A", "evaluation_committee")

# 三十五: the disciplinary committee of PROC-CITY-A's province.
disciplinary_committee := {
	"type": "body",
	"id": "dc-PROV-A",
	"properties": {"role": "disciplinary_committee", "procuratorate": "PROC-PROV-A"},
}

chief := t.person("chief-A", "chief_procurator", {"roles": ["chief_procurator", "procurator", "committee_member"]})

procurator := t.person("p-A1", "procurator", {})

registered(scope) := {
	"document": "A检委托〔2024〕9号",
	"kind": "delegation",
	"grantor": "chief-A",
	"procuratorate": "PROC-CITY-A",
	"scope": scope,
	"valid_from": "2024-07-04",
}

deputy := t.person("dep-D2", "deputy_chief_procurator", {"roles": ["deputy_chief_procurator", "procurator"]})

decide_delegated(subject, scope, act, res, ctx) := d if {
	d := t.decide(subject, act, res, ctx) with data.quanze.directory.grants as {subject.id: [registered(scope)]}
}

full_time_member := t.person(
	"ftm-F1",
	"full_time_committee_member",
	{"roles": ["full_time_committee_member", "procurator"]},
)

# The accountability matter: a case of this procuratorate in which p-A1's conduct is examined.
matter(props) := {
	"type": "discipline_decision",
	"id": "DISC-1",
	"properties": object.union({"procuratorate": "PROC-CITY-A", "subject_of_decision": "p-A1"}, props),
}

quota(props) := {
	"type": "procurator_quota",
	"id": "Q-p-A1",
	"properties": object.union({"procuratorate": "PROC-CITY-A", "subject_of_decision": "p-A1"}, props),
}

case_with(props) := {"type": "case", "id": "C-1001", "properties": object.union(t.sole_case.properties, props)}

approval := {"chief_approval": true, "approved_by": "chief-A"}

# ---------------------------------------------------------------- 三十五

# R35-1: inspection investigates a violation of duty.
test_inspection_investigates_allowed if {
	d := t.decide(inspection, "accountability.investigate", matter({}), {})
	d.decision == true
	t.codes(d) == {"inspection_investigates_violation"}
	t.articles(d) == {"三十五"}
}

# R35-1: no one else is given the investigation.
test_procurator_investigates_denied if {
	d := t.decide(procurator, "accountability.investigate", matter({}), {})
	d.decision == false
	t.codes(d) == {"action_not_granted"}
}

# R35-2, 四十六: an approval counts only when the directory shows the approver is the chief, or
# the registry a delegation of the approval; a department head's name is no approval.
test_inspection_refers_with_approval_by_someone_not_the_chief_denied if {
	d := t.decide(
		inspection,
		"accountability.refer_to_disciplinary_committee",
		matter({}),
		{"chief_approval": true, "approved_by": "dh-A1"},
	)
	d.decision == false
	{[r.code, r.article] | some r in d.reasons} == {["approver_not_chief", "三十五"], ["approver_holds_no_delegation", "四十六"]}
	some r in d.reasons
	contains(r.message_en, "the chief of PROC-CITY-A is chief-A")
	some s in d.reasons
	contains(s.message_en, "the registry shows dh-A1 holding no delegation covering accountability.approve_referral")
	delegated := t.decide(
		inspection,
		"accountability.refer_to_disciplinary_committee",
		matter({}),
		{"chief_approval": true, "approved_by": "dep-D2"},
	) with data.quanze.directory.grants as {"dep-D2": [registered(["accountability.approve_referral"])]}
	delegated.decision == true
}

# R35-2: "报检察长批准后，提请检察官惩戒委员会审议".
test_inspection_refers_with_chief_approval_allowed if {
	d := t.decide(inspection, "accountability.refer_to_disciplinary_committee", matter({}), approval)
	d.decision == true
	t.codes(d) == {"inspection_refers_to_disciplinary_committee"}
}

# R35-2: without the approval, or with an approval that names no approver, the referral is denied.
test_inspection_refers_without_chief_approval_denied if {
	d := t.decide(inspection, "accountability.refer_to_disciplinary_committee", matter({}), {})
	d.decision == false
	t.codes(d) == {"referral_requires_chief_approval"}
	unnamed := t.decide(inspection, "accountability.refer_to_disciplinary_committee", matter({}), {"chief_approval": true})
	t.codes(unnamed) == {"referral_requires_chief_approval"}
}

# R35-2: case management refers to inspection; it does not refer to the committee itself.
test_case_management_refers_to_disciplinary_committee_denied if {
	d := t.decide(case_management, "accountability.refer_to_disciplinary_committee", matter({}), approval)
	t.codes(d) == {"action_not_granted", "outside_role_duties"}
}

# R35-2: the chief approves the referral and answers for it as supervisor (二十五): approving a
# referral is supervision, not a decision on a case (二十八 "就办案事项作出的决定").
test_chief_approves_referral_allowed if {
	d := t.decide(chief, "accountability.approve_referral", matter({}), {})
	d.decision == true
	t.codes(d) == {"chief_approves_referral"}
	d.accountable == {{
		"subject_id": "chief-A",
		"capacity": "chief_procurator",
		"responsibility": "supervisory",
		"article": "二十五",
	}}
}

# R35-2, R46-3: a deputy whose delegation covers the approval approves as the chief; the
# delegating chief is named in the reason (A9 "delegated_by"), and the deputy answers.
test_deputy_with_delegation_approves_referral_allowed if {
	d := decide_delegated(deputy, ["accountability.approve_referral"], "accountability.approve_referral", matter({}), {})
	d.decision == true
	t.codes(d) == {"delegate_approves_for_chief"}
	some r in d.reasons
	contains(r.message_zh, "受 chief-A 委托")
	d.accountable == {{
		"subject_id": "dep-D2",
		"capacity": "deputy_chief_procurator",
		"responsibility": "supervisory",
		"article": "二十五",
	}}
}

# 四十六: a deputy or full-time member whose delegation does not cover the approval is denied.
test_deputy_without_covering_delegation_approves_referral_denied if {
	d := decide_delegated(deputy, ["decision.prosecute"], "accountability.approve_referral", matter({}), {})
	d.decision == false
	t.codes(d) == {"chief_power_not_delegated", "action_not_granted"}
	member := t.decide(full_time_member, "accountability.approve_referral", matter({}), {})
	t.codes(member) == {"chief_power_not_delegated", "action_not_granted"}
}

# R35-2: a department head's approval is not the chief's.
test_dept_head_approves_referral_denied if {
	d := t.decide(t.dept_head, "accountability.approve_referral", matter({}), {})
	d.decision == false
	t.codes(d) == {"action_not_granted", "outside_role_duties"}
}

# R35-3: the committee reviews a procurator's matter referred with the chief's approval and
# gives one of the four opinions.
test_disciplinary_committee_issues_each_opinion_allowed if {
	every opinion in management.review_opinions {
		d := t.decide(
			disciplinary_committee,
			"disciplinary.review_opinion",
			matter({}),
			object.union(approval, {"review_opinion": opinion}),
		)
		d.decision == true
		t.codes(d) == {"disciplinary_committee_issues_opinion"}
	}
}

# R35-3: an opinion outside the four (or none) is denied.
test_disciplinary_committee_issues_unknown_opinion_denied if {
	d := t.decide(
		disciplinary_committee,
		"disciplinary.review_opinion",
		matter({}),
		object.union(approval, {"review_opinion": "reprimand"}),
	)
	d.decision == false
	t.codes(d) == {"review_opinion_not_recognised"}
	none := t.decide(disciplinary_committee, "disciplinary.review_opinion", matter({}), approval)
	t.codes(none) == {"review_opinion_not_recognised"}
}

# 三十五 "报检察长批准后，提请检察官惩戒委员会审议…对检察官的司法责任进行审查": without the chief's
# approval the committee has nothing referred to it; and it reviews procurators only.
test_disciplinary_committee_reviews_only_referred_matters_of_procurators if {
	unreferred := t.decide(
		disciplinary_committee,
		"disciplinary.review_opinion",
		matter({}),
		{"review_opinion": "no_violation"},
	)
	t.codes(unreferred) == {"referral_requires_chief_approval"}
	forged := t.decide(
		disciplinary_committee,
		"disciplinary.review_opinion",
		matter({}),
		{"review_opinion": "no_violation", "chief_approval": true, "approved_by": "p-X9"},
	)
	t.codes(forged) == {"approver_not_chief", "approver_holds_no_delegation"}
	clerk_matter := t.decide(
		disciplinary_committee,
		"disciplinary.review_opinion",
		matter({"subject_of_decision": "clerk-C1"}),
		object.union(approval, {"review_opinion": "no_violation"}),
	)
	t.codes(clerk_matter) == {"disciplinary_matter_of_a_procurator_only"}
}

# R35-4, 三十六: the procuratorate decides after the committee's opinion, under the regulations.
test_procuratorate_decides_after_committee_opinion_allowed if {
	d := t.decide(procuratorate, "disciplinary.decide", matter({"committee_opinion": "gross_negligence"}), {})
	d.decision == true
	t.codes(d) == {"procuratorate_decides_discipline"}
	t.obligation_codes(d) == {"apply_accountability_regulations"}
}

# R35-4: before the committee's opinion there is nothing to decide on.
test_procuratorate_decides_before_committee_opinion_denied if {
	d := t.decide(procuratorate, "disciplinary.decide", matter({}), {})
	d.decision == false
	t.codes(d) == {"committee_opinion_required"}
}

# R35-5: the committee gives an opinion; it does not decide.
test_disciplinary_committee_decides_denied if {
	d := t.decide(disciplinary_committee, "disciplinary.decide", matter({"committee_opinion": "intentional"}), {})
	d.decision == false
	t.codes(d) == {"disciplinary_committee_cannot_decide"}
}

# ---------------------------------------------------------------- 三十八

# R38-1: the staff member the decision concerns applies for review or appeals.
test_subject_of_decision_contests_allowed if {
	every act in ["discipline.apply_review", "discipline.appeal"] {
		d := t.decide(procurator, act, matter({}), {})
		d.decision == true
		t.codes(d) == {"staff_member_contests_decision"}
		t.articles(d) == {"三十八"}
	}
	clerk := t.decide(t.clerk, "discipline.appeal", matter({"subject_of_decision": "clerk-C1"}), {})
	clerk.decision == true
}

# R38-1: no one else contests the decision for them.
test_other_staff_contest_decision_denied if {
	d := t.decide(t.person("p-X9", "procurator", {}), "discipline.appeal", matter({}), {})
	d.decision == false
	t.codes(d) == {"only_subject_of_decision_may_contest"}
	unnamed := t.decide(procurator, "discipline.apply_review", matter({"subject_of_decision": null}), {})
	t.codes(unnamed) == {"only_subject_of_decision_may_contest"}
}

# R38-1: the right is the staff member's (四十五 检察人员), not a unit's.
test_unit_contests_decision_about_its_id_denied if {
	d := t.decide(case_management, "discipline.appeal", matter({"subject_of_decision": "cm-A"}), {})
	t.codes(d) == {"staff_member_not_of_procuratorate", "action_not_granted"}
}

# ---------------------------------------------------------------- 三十九

# R39-1: a false accusation is clarified; a malicious one is pursued.
test_procuratorate_clarifies_false_accusation_allowed if {
	d := t.decide(procuratorate, "accusation.clarify", matter({"accusation_found_false": true}), {})
	d.decision == true
	t.codes(d) == {"procuratorate_clarifies_accusation"}
	d.obligations == set()
	malicious := t.decide(
		procuratorate,
		"accusation.clarify",
		matter({"accusation_found_false": true, "accusation_malicious": true}),
		{},
	)
	t.obligation_codes(malicious) == {"pursue_malicious_accuser"}
}

# R39-1: "检举控告失实需要澄清": until found false there is nothing to clarify.
test_procuratorate_clarifies_unverified_accusation_denied if {
	d := t.decide(procuratorate, "accusation.clarify", matter({}), {})
	d.decision == false
	t.codes(d) == {"accusation_not_found_false"}
}

# ---------------------------------------------------------------- 四十

# R40-1: everyone records case work online.
test_everyone_records_online_allowed if {
	every subject in [procurator, t.assistant, t.clerk, chief, case_management] {
		d := t.decide(subject, "system.record_online", t.sole_case, {})
		d.decision == true
		t.codes(d) == {"record_case_work_online"}
		d.obligations == set()
	}
}

# A41: "原则上" — an offline exception is allowed, flagged for case-management review.
test_offline_exception_allowed_with_review_obligation if {
	d := t.decide(procurator, "system.record_online", t.sole_case, {"offline_exception": true})
	d.decision == true
	t.obligation_codes(d) == {"case_management_reviews_offline_exception"}
}

# R40-1: a subject acting in no role is given nothing.
test_subject_without_role_records_online_denied if {
	d := t.decide(
		{"type": "user", "id": "u-1", "properties": {"procuratorate": "PROC-CITY-A"}},
		"system.record_online",
		t.sole_case,
		{},
	)
	d.decision == false
}

# R40-2: case management monitors, raises opinions, notifies and refers to inspection.
test_case_management_supervises_procedure_allowed if {
	every act in [
		"case_management.monitor",
		"case_management.raise_opinion",
		"case_management.notify",
		"case_management.refer_to_inspection",
	] {
		d := t.decide(case_management, act, t.sole_case, {})
		d.decision == true
		t.codes(d) == {"case_management_supervises_procedure"}
	}
}

# R40-2: the supervision is case management's, not a procurator's.
test_procurator_monitors_procedure_denied if {
	d := t.decide(procurator, "case_management.monitor", t.sole_case, {})
	t.codes(d) == {"action_not_granted"}
}

# R40-3: case management neither decides nor changes a procurator's opinion.
test_case_management_decides_denied if {
	every act in ["decision.prosecute", "decision.procedural", "request.reply_to_lower"] {
		d := t.decide(case_management, act, t.sole_case, {})
		d.decision == false
		t.codes(d) == {"case_management_cannot_decide", "action_not_granted"}
	}
}

test_case_management_changes_opinion_denied if {
	every act in ["opinion.edit", "opinion.demand_change"] {
		d := t.decide(case_management, act, t.sole_case, {})
		d.decision == false
		"case_management_cannot_change_opinion" in t.codes(d)
	}
}

# ---------------------------------------------------------------- 四十一

# R41-1: "年度考核不称职，应当降低检察官等级" — by the procuratorate or the evaluation committee.
test_grade_lowered_after_incompetent_rating_allowed if {
	every subject in [procuratorate, evaluation_committee] {
		d := t.decide(subject, "grade.lower", quota({"annual_rating": "incompetent"}), {})
		d.decision == true
		t.codes(d) == {"lower_grade_of_incompetent_procurator"}
	}
}

test_grade_lowered_without_incompetent_rating_denied if {
	d := t.decide(procuratorate, "grade.lower", quota({"annual_rating": "basically_competent"}), {})
	d.decision == false
	t.codes(d) == {"annual_rating_not_incompetent"}
}

# R41-1: "经检察官考评委员会认定不能胜任…应当按照程序退出检察官员额".
test_quota_exit_after_unfitness_finding_allowed if {
	d := t.decide(procuratorate, "quota.exit", quota({"found_unfit_by_evaluation_committee": true}), {})
	d.decision == true
	t.codes(d) == {"exit_quota_of_unfit_procurator"}
	t.obligation_codes(d) == {"follow_quota_exit_procedure"}
}

test_quota_exit_without_unfitness_finding_denied if {
	d := t.decide(evaluation_committee, "quota.exit", quota({"annual_rating": "incompetent"}), {})
	d.decision == false
	t.codes(d) == {"unfitness_not_found_by_evaluation_committee"}
}

# 四十一 "降低检察官等级", "退出检察官员额": the person must be a procurator of the procuratorate in
# the directory — not an assistant, a clerk, someone who left the quota, or nobody named.
test_grade_and_quota_of_someone_not_a_procurator_denied if {
	every person in ["asst-A1", "clerk-C1", "p-R1", "p-K1", ""] {
		lowered := t.decide(
			procuratorate,
			"grade.lower",
			quota({"annual_rating": "incompetent", "subject_of_decision": person}),
			{},
		)
		lowered.decision == false
		"subject_of_decision_not_procurator" in t.codes(lowered)
		exited := t.decide(
			evaluation_committee,
			"quota.exit",
			quota({"found_unfit_by_evaluation_committee": true, "subject_of_decision": person}),
			{},
		)
		exited.decision == false
		"subject_of_decision_not_procurator" in t.codes(exited)
	}
}

# R41-2: a department head assesses (二十三(8)) but does not remove anyone from the quota.
test_dept_head_exits_procurator_from_quota_denied if {
	d := t.decide(t.dept_head, "quota.exit", quota({"found_unfit_by_evaluation_committee": true}), {})
	d.decision == false
	t.codes(d) == {"dept_head_cannot_exit_quota"}
}

# ---------------------------------------------------------------- 四十二

# R42-1: quality review of closed cases, whose results feed assessment.
test_quality_review_of_closed_case_allowed if {
	every subject in [case_management, procuratorate] {
		d := t.decide(subject, "quality.review", case_with({"case_closed": true}), {})
		d.decision == true
		t.codes(d) == {"review_quality_of_closed_cases"}
		t.obligation_codes(d) == {"feed_quality_results_into_assessment"}
	}
}

test_quality_review_of_open_case_denied if {
	d := t.decide(case_management, "quality.review", t.sole_case, {})
	d.decision == false
	t.codes(d) == {"case_not_closed"}
}

# ---------------------------------------------------------------- 四十三

# R43-1: any staff member records and reports interference, and must.
test_staff_record_interference_allowed if {
	every subject in [procurator, t.clerk, chief] {
		d := t.decide(subject, "interference.record_report", t.sole_case, {"event": {"type": "inquiry", "by": "official-X"}})
		d.decision == true
		t.codes(d) == {"staff_records_interference"}
		t.obligation_codes(d) == {"record_and_report_interference"}
	}
}

# R43-1: the record names what happened.
test_interference_record_without_event_denied if {
	d := t.decide(procurator, "interference.record_report", t.sole_case, {})
	d.decision == false
	t.codes(d) == {"interference_event_not_stated"}
	odd := t.decide(procurator, "interference.record_report", t.sole_case, {"event": {"type": "gift"}})
	t.codes(odd) == {"interference_event_not_stated"}
}

# R43-1: the duty is personal (检察人员); a unit is not granted it.
test_unit_records_interference_denied if {
	d := t.decide(case_management, "interference.record_report", t.sole_case, {"event": {"type": "meddling"}})
	t.codes(d) == {"action_not_granted", "outside_role_duties"}
}

# ---------------------------------------------------------------- 四十四

# R44-1: the procuratorate discloses to parties and the public, within the prescribed scope.
test_procuratorate_discloses_allowed if {
	every act in ["info.disclose_party", "info.disclose_public"] {
		d := t.decide(procuratorate, act, case_with({"content_flags": []}), {})
		d.decision == true
		t.codes(d) == {"procuratorate_discloses_information"}
		t.obligation_codes(d) == {"disclose_within_prescribed_scope"}
	}
}

# A42: content flagged national security, data security or privacy is not disclosed.
test_procuratorate_discloses_protected_content_denied if {
	d := t.decide(
		procuratorate,
		"info.disclose_public",
		case_with({"content_flags": ["national_security", "data_security", "personal_privacy"]}),
		{},
	)
	d.decision == false
	t.codes(d) == {
		"disclosure_endangers_national_security",
		"disclosure_endangers_data_security",
		"disclosure_exposes_personal_privacy",
	}
	party := t.decide(procuratorate, "info.disclose_party", case_with({"content_flags": ["personal_privacy"]}), {})
	t.codes(party) == {"disclosure_exposes_personal_privacy"}
}

# 四十四, 十一(1), A42: a case that itself involves national security is not disclosed, whatever
# flags its content carries.
test_procuratorate_discloses_national_security_case_denied if {
	d := t.decide(
		procuratorate,
		"info.disclose_public",
		case_with({"involves_national_security": true, "content_flags": []}),
		{},
	)
	d.decision == false
	t.codes(d) == {"disclosure_endangers_national_security"}
}

# R44-1: disclosure is the procuratorate's act, not a procurator's.
test_procurator_discloses_denied if {
	d := t.decide(procurator, "info.disclose_public", t.sole_case, {})
	t.codes(d) == {"action_not_granted"}
	t.articles(d) == {"四十四"}
}

# ---------------------------------------------------------------- the whole catalog

# ListAllowedActions and Check agree for the management units.
test_list_agrees_with_check_for_management_units if {
	every subject in [inspection, procuratorate, case_management] {
		ctx := {"chief_approval": true, "approved_by": "chief-A"}
		ds := authz.decisions with input as {
			"subject": subject,
			"resource": matter({"committee_opinion": "no_violation"}),
			"context": ctx,
		}
		every act in [
			"accountability.refer_to_disciplinary_committee",
			"disciplinary.decide",
			"case_management.notify",
			"decision.prosecute",
		] {
			ds[act] == t.decide(subject, act, matter({"committee_opinion": "no_violation"}), ctx)
		}
	}
}
