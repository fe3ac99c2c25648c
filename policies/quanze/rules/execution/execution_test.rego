package quanze.rules.execution_test

import rego.v1

import data.quanze.testlib as t

procurator := t.person("p-A1", "procurator", {})

member := t.person("p-T2", "procurator", {})

other_procurator := t.person("p-X9", "procurator", {})

chief_decision := {"decision_source": "chief", "decision_id": "D-1"}

committee_decision := {"decision_source": "committee", "decision_id": "D-2"}

written_report := {"to": "chief", "form": "written", "immediate": true}

with_context(base, extra) := object.union(base, extra)

chief_answers := {"subject_id": "", "capacity": "chief_procurator", "responsibility": "judicial", "article": "二十八"}

# ------------------------------------------------------------------ decision.execute (十二, 二十八)

# R12-1 "检察委员会的决定，检察官应当及时执行"; P8: members for their votes, the procurator for the execution.
test_procurator_executes_committee_decision_allowed if {
	d := t.decide(procurator, "decision.execute", t.sole_case, committee_decision)
	d.decision == true
	t.codes(d) == {"execute_committee_decision"}
	t.articles(d) == {"十二"}
	t.obligation_codes(d) == {"execute_promptly"}
	d.accountable == {
		{"subject_id": "", "capacity": "committee_member", "responsibility": "judicial", "article": "二十七"},
		{"subject_id": "p-A1", "capacity": "handling_procurator", "responsibility": "judicial", "article": "十二"},
	}
}

# 二十八 "检察长对办案事项作出的决定，检察官应当执行"; P3: the chief answers for the decision.
test_procurator_executes_chief_decision_allowed if {
	d := t.decide(procurator, "decision.execute", t.sole_case, chief_decision)
	d.decision == true
	t.codes(d) == {"execute_chief_decision"}
	t.articles(d) == {"二十八"}
	t.obligation_codes(d) == set()
	d.accountable == {chief_answers}
}

# 十二: a team member executes too: every handling procurator does.
test_team_member_executes_committee_decision_allowed if {
	d := t.decide(member, "decision.execute", t.team_case, committee_decision)
	d.decision == true
}

# 十二, 二十八: the request must say whose decision is executed.
test_execute_without_decision_source_denied if {
	d := t.decide(procurator, "decision.execute", t.sole_case, {})
	d.decision == false
	t.codes(d) == {"decision_source_required"}
	t.articles(d) == {"十二"}
}

# 十二: a procurator who does not handle the case does not execute decisions on it.
test_other_procurator_executes_decision_denied if {
	d := t.decide(other_procurator, "decision.execute", t.sole_case, chief_decision)
	d.decision == false
	t.codes(d) == {"action_not_granted"}
	t.articles(d) == {"十二"}
}

# 十二: an assistant does not execute the chief's or the committee's decision.
test_assistant_executes_decision_denied if {
	d := t.decide(t.assistant, "decision.execute", t.sole_case, with_context(t.guided, committee_decision))
	d.decision == false
	t.codes(d) == {"action_not_granted", "outside_role_duties"}
}

# A26, P7: executing a clearly illegal chief decision without objecting is allowed, with a
# warning and the objection offered; the procurator answers as well as the chief.
test_executing_clearly_illegal_chief_decision_without_objection_allowed_with_warning if {
	context := with_context(chief_decision, {"executor_flags_clearly_illegal": true})
	d := t.decide(procurator, "decision.execute", t.sole_case, context)
	d.decision == true
	t.obligation_codes(d) == {"warn_liability_clearly_illegal", "objection_available"}
	d.accountable == {
		chief_answers,
		{"subject_id": "p-A1", "capacity": "handling_procurator", "responsibility": "judicial", "article": "二十八"},
	}
}

# P6: objected, the chief kept the decision: "执行后果由检察长负责，检察官不承担司法责任".
test_executing_after_chief_maintained_objection_allowed if {
	context := with_context(
		chief_decision,
		{"executor_flags_clearly_illegal": true, "objection_raised": true, "chief_maintained": true},
	)
	d := t.decide(procurator, "decision.execute", t.sole_case, context)
	d.decision == true
	t.obligation_codes(d) == set()
	d.accountable == {chief_answers}
}

# P6: objected, the chief ordered immediate execution: the chief alone answers.
test_executing_after_chief_ordered_immediate_allowed if {
	context := with_context(chief_decision, {"objection_raised": true, "chief_ordered_immediate": true})
	d := t.decide(procurator, "decision.execute", t.sole_case, context)
	d.decision == true
	d.accountable == {chief_answers}
}

# A26, A25: a committee decision flagged as clearly illegal: warned, the 十二 report offered.
test_executing_clearly_illegal_committee_decision_allowed_with_warning if {
	context := with_context(committee_decision, {"executor_flags_clearly_illegal": true})
	d := t.decide(procurator, "decision.execute", t.sole_case, context)
	d.decision == true
	t.obligation_codes(d) == {"execute_promptly", "warn_liability_clearly_illegal", "written_report_available"}
}

# ------------------------------------------------------------------ decision.defer_execution (十二, 二十八)

# R12-2: not executing a committee decision in time, with an immediate written report to the chief.
test_deferring_committee_decision_with_written_report_allowed if {
	d := t.decide(
		procurator,
		"decision.defer_execution",
		t.sole_case,
		with_context(committee_decision, {"report": written_report}),
	)
	d.decision == true
	t.codes(d) == {"defer_committee_decision_with_report"}
	t.obligation_codes(d) == {"report_execution_obstacle"}
}

# R12-2: without the report the committee's decision may not wait.
test_deferring_committee_decision_without_report_denied if {
	d := t.decide(procurator, "decision.defer_execution", t.sole_case, committee_decision)
	d.decision == false
	t.codes(d) == {"written_report_to_chief_required"}
	t.articles(d) == {"十二"}
}

# R12-2 "立即书面报告检察长": an oral report does not do.
test_deferring_committee_decision_with_oral_report_denied if {
	oral := {"to": "chief", "form": "oral", "immediate": true}
	d := t.decide(procurator, "decision.defer_execution", t.sole_case, with_context(committee_decision, {"report": oral}))
	d.decision == false
	t.codes(d) == {"written_report_to_chief_required"}
}

# R12-2: a report made later, or to someone else, does not do either.
test_deferring_committee_decision_with_late_report_denied if {
	late := {"to": "department_head", "form": "written", "immediate": false}
	d := t.decide(procurator, "decision.defer_execution", t.sole_case, with_context(committee_decision, {"report": late}))
	d.decision == false
}

# A27: a chief decision waits while the procurator's objection is pending.
test_deferring_chief_decision_while_objection_pending_allowed if {
	d := t.decide(
		procurator,
		"decision.defer_execution",
		t.sole_case,
		with_context(chief_decision, {"objection_raised": true}),
	)
	d.decision == true
	t.codes(d) == {"defer_pending_objection"}
	t.articles(d) == {"二十八"}
	t.obligation_codes(d) == {"execute_if_chief_maintains"}
}

# A27, 二十八 "检察官应当执行": without an objection there is nothing to wait for.
test_deferring_chief_decision_without_objection_denied if {
	d := t.decide(procurator, "decision.defer_execution", t.sole_case, chief_decision)
	d.decision == false
	t.codes(d) == {"no_objection_pending"}
}

# 二十八 "检察长不改变该决定…的，检察官应当执行".
test_deferring_after_chief_maintained_decision_denied if {
	context := with_context(chief_decision, {"objection_raised": true, "chief_maintained": true})
	d := t.decide(procurator, "decision.defer_execution", t.sole_case, context)
	d.decision == false
	t.codes(d) == {"chief_maintained_decision"}
}

# 二十八 "或者要求立即执行的，检察官应当执行".
test_deferring_after_chief_ordered_immediate_execution_denied if {
	context := with_context(chief_decision, {"objection_raised": true, "chief_ordered_immediate": true})
	d := t.decide(procurator, "decision.defer_execution", t.sole_case, context)
	d.decision == false
	t.codes(d) == {"chief_ordered_immediate_execution"}
}

# 十二, 二十八: deferring needs to know whose decision it is.
test_deferring_without_decision_source_denied if {
	d := t.decide(procurator, "decision.defer_execution", t.sole_case, {"report": written_report})
	d.decision == false
	t.codes(d) == {"decision_source_required"}
}

# ------------------------------------------------------------------ decision.object (二十八, A25)

# 二十八 "认为决定有错误的，可以提出异议".
test_objecting_to_chief_decision_allowed if {
	d := t.decide(procurator, "decision.object", t.sole_case, chief_decision)
	d.decision == true
	t.codes(d) == {"object_to_chief_decision"}
	t.obligation_codes(d) == {"execute_if_chief_maintains"}
}

# A25, R12-3: no objection against a committee decision; the 十二 written report instead.
test_objecting_to_committee_decision_denied if {
	d := t.decide(procurator, "decision.object", t.sole_case, committee_decision)
	d.decision == false
	t.codes(d) == {"no_objection_to_committee_decision", "report_to_chief_in_writing_instead", "action_not_granted"}
	t.articles(d) == {"十二", "二十八"}
}

# 二十八: an objection names the decision's source.
test_objecting_without_decision_source_denied if {
	d := t.decide(procurator, "decision.object", t.sole_case, {})
	d.decision == false
	t.codes(d) == {"decision_source_required"}
	t.articles(d) == {"二十八"}
}

# 二十八: only the procurator executing the decision objects to it.
test_other_procurator_objects_denied if {
	d := t.decide(other_procurator, "decision.object", t.sole_case, chief_decision)
	d.decision == false
	t.codes(d) == {"action_not_granted"}
}

# ------------------------------------------------------------------ report.execution_obstacle (十二)

# 十二 "应当立即书面报告检察长".
test_procurator_reports_execution_obstacle_allowed if {
	d := t.decide(procurator, "report.execution_obstacle", t.sole_case, committee_decision)
	d.decision == true
	t.codes(d) == {"report_obstacle_to_chief"}
	t.obligation_codes(d) == {"report_in_writing_immediately"}
}

# 十二: the report comes from a procurator handling the case.
test_other_procurator_reports_execution_obstacle_denied if {
	d := t.decide(other_procurator, "report.execution_obstacle", t.sole_case, committee_decision)
	d.decision == false
	t.codes(d) == {"action_not_granted"}
	t.articles(d) == {"十二"}
}

# 十二, 二十八: List and Check agree on the execution actions.
test_list_agrees_with_check_for_execution_actions if {
	context := {"decision_source": "chief", "objection_raised": true, "executor_flags_clearly_illegal": true}
	ds := data.quanze.authz.decisions with input as {"subject": procurator, "resource": t.sole_case, "context": context}
	every act in ["decision.execute", "decision.defer_execution", "decision.object", "report.execution_obstacle"] {
		ds[act] == t.decide(procurator, act, t.sole_case, context)
	}
}

# 十二 "应当立即书面报告检察长": a report described otherwise is not that report; the chief may be
# named by id, as the directory knows them.
test_execution_obstacle_report_to_the_chief_in_writing_at_once if {
	oral := with_context(committee_decision, {"report": {"to": "dh-A1", "form": "oral", "immediate": false}})
	t.codes(t.decide(procurator, "report.execution_obstacle", t.sole_case, oral)) == {"written_report_to_chief_required"}
	by_id := with_context(committee_decision, {"report": {"to": "chief-A", "form": "written", "immediate": true}})
	t.decide(procurator, "report.execution_obstacle", t.sole_case, by_id).decision == true
	t.decide(procurator, "decision.defer_execution", t.sole_case, by_id).decision == true
	other_chief := with_context(committee_decision, {"report": {"to": "chief-B", "form": "written", "immediate": true}})
	t.codes(
		t.decide(procurator, "decision.defer_execution", t.sole_case, other_chief),
	) == {"written_report_to_chief_required"}
}
