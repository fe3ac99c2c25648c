package quanze.rules.auxiliary_test

import rego.v1

import data.quanze.rules.auxiliary
import data.quanze.testlib as t

# ------------------------------------------------------------------ 十七 assistants

# 十七(1)–(7): every listed duty is allowed under a handling procurator's guidance, citing its item.
test_assistant_each_listed_duty_under_guidance_allowed if {
	plain_duties := {act: item | some act, item in auxiliary.assistant_duties; not act in auxiliary.senior_court_duties}
	every act, item in plain_duties {
		d := t.decide(t.assistant, act, t.sole_case, t.assigned)
		d.decision == true
		some r in d.reasons
		r.code == "assistant_duty"
		r.article == "十七"
		r.item == item
	}
}

# 十七: "在检察官的指导下" — no guiding procurator named, so deny.
test_assistant_interrogates_without_guidance_denied if {
	d := t.decide(t.assistant, "case.interrogate_suspect", t.sole_case, {})
	d.decision == false
	t.codes(d) == {"assistant_requires_guidance"}
	t.articles(d) == {"十七"}
}

# 十七, A11: the guiding procurator must handle this case.
test_assistant_guided_by_procurator_of_another_case_denied if {
	d := t.decide(t.assistant, "case.question_witness", t.sole_case, {"supervising_procurator": "p-X9"})
	d.decision == false
	t.codes(d) == {"supervisor_not_handling_procurator"}
}

# 十七, A11: on a team case any team procurator may guide (the lead or a member).
test_assistant_guided_by_team_member_allowed if {
	d := t.decide(t.assistant, "evidence.collect", t.team_case, {"supervising_procurator": "p-T2"})
	d.decision == true
}

# 十七(1), A12: summoning is a procurator's power (十四(1)), not an assistant's.
test_assistant_summons_suspect_denied if {
	d := t.decide(t.assistant, "case.summon_suspect", t.sole_case, t.guided)
	d.decision == false
	some r in d.reasons
	r.code == "action_not_granted"
	r.article == "十四"
	r.item == 1
}

# R17-X, A12–A14, A17: powers of 十四 stay with procurators even under guidance.
test_assistant_procurator_only_powers_denied if {
	every act in {
		"court.interrogate_defendant", "evidence.review", "measure.organize", "hearing.preside",
		"court.appear", "court.read_charging_document", "court_file.access",
		"execution.supervise_death_penalty", "decision.prosecute", "opinion.review",
	} {
		d := t.decide(t.assistant, act, t.sole_case, t.guided)
		d.decision == false
		"action_not_granted" in t.codes(d)
	}
}

# 十七(6): a senior-stage assistant with the chief's approval, after the procurator spoke, may argue.
test_senior_assistant_court_argument_with_approval_allowed if {
	every act in auxiliary.senior_court_duties {
		d := t.decide(t.senior_assistant, act, t.sole_case, t.court_approval)
		d.decision == true
		"keep_chief_approval_record" in t.obligation_codes(d)
	}
}

# 十七(6): each of the three conditions is its own reason when missing.
test_assistant_court_argument_missing_all_conditions_denied if {
	d := t.decide(t.assistant, "court.debate", t.sole_case, t.guided)
	d.decision == false
	t.codes(d) == {"senior_stage_required", "chief_approval_required", "procurator_must_speak_first"}
	every r in d.reasons {
		r.article == "十七"
		r.item == 6
	}
}

test_senior_assistant_court_argument_before_procurator_spoke_denied if {
	d := t.decide(t.senior_assistant, "court.state_opinion", t.sole_case, object.remove(t.court_approval, ["procurator_spoke_on_main_issues"]))
	d.decision == false
	t.codes(d) == {"procurator_must_speak_first"}
}

# 十七(6), A16: the approval is a record naming the approver, not a bare flag.
test_senior_assistant_court_argument_with_unnamed_approval_denied if {
	d := t.decide(t.senior_assistant, "court.debate", t.sole_case, object.remove(t.court_approval, ["approved_by"]))
	d.decision == false
	t.codes(d) == {"chief_approval_required"}
}

# 十七(6) "补充发表出庭意见": an assistant never states the primary court opinion.
test_senior_assistant_states_primary_opinion_denied if {
	d := t.decide(t.senior_assistant, "court.state_opinion", t.sole_case, object.union(t.court_approval, {"opinion_mode": "primary"}))
	d.decision == false
	t.codes(d) == {"assistant_opinion_must_be_supplementary"}
}

# 十七, A11: an empty guiding procurator is no guidance.
test_assistant_with_empty_supervisor_denied if {
	d := t.decide(t.assistant, "case.interrogate_suspect", t.sole_case, {"supervising_procurator": ""})
	d.decision == false
	t.codes(d) == {"assistant_requires_guidance"}
}

# 十七(6): assisting the procurator in court needs no approval.
test_assistant_assists_in_court_allowed if {
	d := t.decide(t.assistant, "court.assist", t.sole_case, t.guided)
	d.decision == true
}

# 十七(7), A17: an assigned task must come from a procurator handling the case.
test_assistant_task_assigned_by_outsider_denied if {
	d := t.decide(t.assistant, "task.assigned", t.sole_case, object.union(t.assigned, {"assigned_by": "p-X9"}))
	d.decision == false
	t.codes(d) == {"task_not_assigned_by_handling_procurator"}
}

# A17: the assignment names the task.
test_assistant_unnamed_task_denied if {
	d := t.decide(t.assistant, "task.assigned", t.sole_case, object.remove(t.assigned, ["assigned_task"]))
	d.decision == false
	t.codes(d) == {"task_not_named"}
}

# A17: a catch-all may not confer a procurator's power, such as deciding to prosecute.
test_assistant_task_to_decide_prosecution_denied if {
	d := t.decide(t.assistant, "task.assigned", t.sole_case, object.union(t.assigned, {"assigned_task": "decision.prosecute"}))
	d.decision == false
	t.codes(d) == {"task_reserved_to_another_role"}
}

# 十七, R17-0: the supervising procurator is recorded; the assistant answers for own work (三十一).
test_assistant_allowed_act_records_supervisor_and_own_responsibility if {
	d := t.decide(t.assistant, "document.draft", t.sole_case, t.guided)
	d.decision == true
	t.obligation_codes(d) == {"record_supervising_procurator"}
	d.accountable == {{"subject_id": "asst-A1", "capacity": "procurator_assistant", "responsibility": "judicial", "article": "三十一"}}
}

# ------------------------------------------------------------------ 十九 clerks

# 十九(1)–(5): every clerical duty is allowed under guidance, citing its item.
test_clerk_each_listed_duty_under_guidance_allowed if {
	every act, item in auxiliary.clerk_duties {
		d := t.decide(t.clerk, act, t.sole_case, t.assigned)
		d.decision == true
		some r in d.reasons
		r.code == "clerk_duty"
		r.article == "十九"
		r.item == item
	}
}

# 十九: "在检察官指导下" — no guiding procurator named, so deny.
test_clerk_takes_record_without_guidance_denied if {
	d := t.decide(t.clerk, "record.take", t.sole_case, {})
	d.decision == false
	t.codes(d) == {"clerk_requires_guidance"}
	t.articles(d) == {"十九"}
}

# 十九(3): registering an incoming case needs a guiding procurator but not yet a handling one.
test_clerk_registers_case_before_assignment_allowed if {
	unassigned := {"type": "case", "id": "C-3003", "properties": {"procuratorate": "PROC-CITY-A"}}
	d := t.decide(t.clerk, "case.receive_register", unassigned, {"supervising_procurator": "p-A1"})
	d.decision == true
}

# R19-X, A17: clerks do clerical work only — no drafting, interrogation, questioning or measures.
test_clerk_non_clerical_acts_denied if {
	every act in {"document.draft", "case.interrogate_suspect", "case.question_witness", "measure.carry_out", "decision.prosecute"} {
		d := t.decide(t.clerk, act, t.sole_case, t.guided)
		d.decision == false
		t.codes(d) == {"action_not_granted"}
	}
}

# 十九(5): an assigned task names who assigned it.
test_clerk_task_without_assignment_denied if {
	d := t.decide(t.clerk, "task.assigned", t.sole_case, object.remove(t.assigned, ["assigned_by"]))
	d.decision == false
	t.codes(d) == {"clerk_task_requires_assignment"}
}

# 十九(5), A17: drafting is not clerical work, even when assigned.
test_clerk_task_to_draft_document_denied if {
	d := t.decide(t.clerk, "task.assigned", t.sole_case, object.union(t.assigned, {"assigned_task": "document.draft"}))
	d.decision == false
	some r in d.reasons
	r.code == "task_reserved_to_another_role"
	r.article == "十九"
	r.item == 5
}

# 十九, §1.2: on a case with handling procurators, one of them guides the clerk.
test_clerk_guided_by_procurator_of_other_case_denied if {
	d := t.decide(t.clerk, "record.take", t.sole_case, {"supervising_procurator": "p-X9"})
	d.decision == false
	some r in d.reasons
	r.code == "supervisor_not_handling_procurator"
	r.article == "十九"
}

# A11: the guiding procurator is recorded for clerks too.
test_clerk_allowed_act_records_supervisor if {
	d := t.decide(t.clerk, "document.print", t.sole_case, t.guided)
	d.decision == true
	some o in d.obligations
	o.code == "record_supervising_procurator"
	o.article == "十九"
}
