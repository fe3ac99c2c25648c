package quanze.rules.auxiliary_test

import rego.v1

import data.quanze.rules.auxiliary
import data.quanze.testlib as t

# ------------------------------------------------------------------ 十七 assistants

# 十七(1)–(7): every listed duty is allowed under a handling procurator's guidance, citing its item.
# (R17-1, R17-2, R17-3, R17-4, R17-5, R17-7)
test_assistant_each_listed_duty_under_guidance_allowed if {
	plain_duties := {act: item |
		some act, item in auxiliary.assistant_duties
		not act in auxiliary.senior_court_duties
		act != "court_file.access"
	}
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

# 十七, A11: the guiding procurator must handle this case — and be one the assistant works for.
test_assistant_guided_by_procurator_of_another_case_denied if {
	d := t.decide(t.assistant, "case.question_witness", t.sole_case, {"supervising_procurator": "p-X9"})
	d.decision == false
	t.codes(d) == {"supervisor_not_handling_procurator", "supervisor_not_assigned"}
}

# 十七 "在检察官的指导下": the assistant works for the guiding procurator: the directory assigns
# asst-A1 to p-A1, p-L1 and p-T2, not to p-X9, even where p-X9 handles the case.
test_assistant_guided_by_procurator_it_is_not_assigned_to_denied if {
	case := {
		"type": "case",
		"id": "C-1002",
		"properties": object.union(t.sole_case.properties, {"sole_procurator": "p-X9"}),
	}
	d := t.decide(t.assistant, "case.question_witness", case, {"supervising_procurator": "p-X9"})
	d.decision == false
	t.codes(d) == {"supervisor_not_assigned"}
	some r in d.reasons
	contains(r.message_en, "asst-A1 works for p-A1, p-L1, p-T2")
}

# 五 "可以配备必要的检察辅助人员": a case that attaches the assistant puts it under its procurators.
test_assistant_attached_to_the_case_guided_by_its_procurator_allowed if {
	case := {
		"type": "case",
		"id": "C-1002",
		"properties": object.union(t.sole_case.properties, {"sole_procurator": "p-X9", "assigned_auxiliaries": ["asst-A1"]}),
	}
	d := t.decide(t.assistant, "case.question_witness", case, {"supervising_procurator": "p-X9"})
	d.decision == true
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
		"court.appear", "court.read_charging_document",
		"execution.supervise_death_penalty", "decision.prosecute", "opinion.review",
	} {
		d := t.decide(t.assistant, act, t.sole_case, t.guided)
		d.decision == false
		"action_not_granted" in t.codes(d)
	}
}

# A17: court files (十四(8)) only as a task a handling procurator assigned, accompanying them.
test_assistant_court_file_access_only_as_assigned_task if {
	t.codes(
		t.decide(t.assistant, "court_file.access", t.sole_case, t.guided),
	) == {"court_file_access_only_as_assigned_task"}
	accompanying := object.union(t.assigned, {"assigned_task": "court_file.access"})
	t.decide(t.assistant, "court_file.access", t.sole_case, accompanying).decision == true
	t.decide(t.assistant, "task.assigned", t.sole_case, accompanying).decision == true
	by_other := object.union(accompanying, {"assigned_by": "p-X9"})
	t.codes(
		t.decide(t.assistant, "court_file.access", t.sole_case, by_other),
	) == {"court_file_access_only_as_assigned_task"}
	free := t.decide(
		t.assistant,
		"task.assigned",
		t.sole_case,
		object.union(t.assigned, {"assigned_task": "陪同检察官查阅人民法院案卷"}),
	)
	free.decision == true
}

# A44: the assistant stays within the guiding procurator's power: no interrogation in a civil case.
test_assistant_criminal_act_in_civil_case_denied if {
	civil := {"type": "case", "id": "C-5", "properties": object.union(t.sole_case.properties, {"domain": "civil"})}
	d := t.decide(t.assistant, "case.interrogate_suspect", civil, t.guided)
	t.codes(d) == {"criminal_power_outside_criminal_domain"}
	t.decide(t.assistant, "case.review_materials", civil, t.guided).decision == true
}

# 十七(6), A16: the approval relied on names this assistant.
test_senior_assistant_relying_on_approval_naming_another_denied if {
	ctx := object.union(t.court_approval, {"approved_assistant": "asst-A1"})
	d := t.decide(t.senior_assistant, "court.debate", t.sole_case, ctx)
	t.codes(d) == {"approval_names_another_assistant"}
	unnamed := t.decide(
		t.senior_assistant,
		"court.debate",
		t.sole_case,
		object.remove(t.court_approval, ["approved_assistant"]),
	)
	t.codes(unnamed) == {"approval_names_another_assistant"}
}

# A17: free text naming a reserved power in other words, other languages or as a disguised id.
test_catch_all_free_text_variants_denied if {
	every task in ["签发不起诉决定书", "审查逮捕并作出批捕决定", "decide whether to prosecute", "代替检察官出席法庭履行公诉职责", "到刑场监督执行死刑"] {
		d := t.decide(t.assistant, "task.assigned", t.sole_case, object.union(t.assigned, {"assigned_task": task}))
		t.codes(d) == {"task_names_reserved_power"}
	}
	disguised := t.decide(
		t.assistant,
		"task.assigned",
		t.sole_case,
		object.union(t.assigned, {"assigned_task": "Decision.Not_Prosecute "}),
	)
	"catch_all_decided_as_act" in t.codes(disguised)
	disguised.decision == false
	every task in ["讯问嫌疑人王某", "询问被害人李某", "撰写起诉书", "接待辩护律师"] {
		d := t.decide(t.clerk, "task.assigned", t.sole_case, object.union(t.assigned, {"assigned_task": task}))
		t.codes(d) == {"task_names_reserved_power"}
	}
	every task in ["协助实施搜查", "实施扣押涉案手机", "search the suspect's home"] {
		d := t.decide(technician, "technical.assist", t.sole_case, object.union(tech_assigned, {"assigned_task": task}))
		t.codes(d) == {"task_names_reserved_power"}
	}
}

# 三十一: an auxiliary objects to a clearly illegal instruction of the guiding procurator; the
# procurator who gave it answers for it (P12), and the executor only if it did not object (P13).
test_instruction_objected_to_and_executed_names_the_instructor_only if {
	flagged := object.union(
		t.guided,
		{"decision_source": "procurator", "instructed_by": "p-A1", "executor_flags_clearly_illegal": true},
	)
	silent := t.decide(t.assistant, "decision.execute", t.sole_case, flagged)
	silent.accountable == {
		{"subject_id": "p-A1", "capacity": "handling_procurator", "responsibility": "judicial", "article": "三十一"},
		{"subject_id": "asst-A1", "capacity": "procurator_assistant", "responsibility": "judicial", "article": "三十一"},
	}
	t.obligation_codes(silent) == {"warn_liability_clearly_illegal", "objection_available"}
	objected := t.decide(t.assistant, "decision.execute", t.sole_case, object.union(flagged, {"objection_raised": true}))
	objected.accountable == {{
		"subject_id": "p-A1",
		"capacity": "handling_procurator",
		"responsibility": "judicial",
		"article": "三十一",
	}}
	plain := t.decide(
		t.assistant,
		"decision.execute",
		t.sole_case,
		object.union(t.guided, {"decision_source": "procurator", "instructed_by": "p-A1"}),
	)
	plain.accountable == {{
		"subject_id": "asst-A1",
		"capacity": "procurator_assistant",
		"responsibility": "judicial",
		"article": "三十一",
	}}
	police_objects := t.decide(
		police,
		"decision.object",
		t.sole_case,
		{"decision_source": "procurator", "instructed_by": "p-A1"},
	)
	t.codes(police_objects) == {"auxiliary_objects_to_instruction"}
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
	d := t.decide(
		t.senior_assistant,
		"court.state_opinion",
		t.sole_case,
		object.remove(t.court_approval, ["procurator_spoke_on_main_issues"]),
	)
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
	d := t.decide(
		t.senior_assistant,
		"court.state_opinion",
		t.sole_case,
		object.union(t.court_approval, {"opinion_mode": "primary"}),
	)
	d.decision == false
	t.codes(d) == {"assistant_opinion_must_be_supplementary"}
}

# 十七, A11: an empty guiding procurator is no guidance.
test_assistant_with_empty_supervisor_denied if {
	d := t.decide(t.assistant, "case.interrogate_suspect", t.sole_case, {"supervising_procurator": ""})
	d.decision == false
	t.codes(d) == {"assistant_requires_guidance"}
}

# 十七(6): assisting the procurator in court needs no approval. (R17-6a)
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

# A17: a catch-all task that is an act of the catalog is decided as that act: deciding to
# prosecute is the procurator's (六), outside the assistant's duties (十七).
test_assistant_task_to_decide_prosecution_decided_as_that_act_denied if {
	d := t.decide(
		t.assistant,
		"task.assigned",
		t.sole_case,
		object.union(t.assigned, {"assigned_task": "decision.prosecute"}),
	)
	d.decision == false
	t.codes(d) == {"catch_all_decided_as_act", "action_not_granted", "outside_role_duties"}
	some r in d.reasons
	r.code == "catch_all_decided_as_act"
	[r.article, r.item] == ["十七", 7]
}

# A17: a catalogued act the assistant may do is decided as that act, under its own conditions:
# interrogating under guidance is allowed (十七(1)); organising a search is not (十四(4)).
test_assistant_task_that_is_an_assistant_act_decided_as_that_act if {
	interrogate := t.decide(
		t.assistant,
		"task.assigned",
		t.sole_case,
		object.union(t.assigned, {"assigned_task": "case.interrogate_suspect"}),
	)
	interrogate.decision == true
	t.codes(interrogate) == {"assistant_duty", "catch_all_decided_as_act"}
	organise := t.decide(
		t.assistant,
		"task.assigned",
		t.sole_case,
		object.union(t.assigned, {"assigned_task": "measure.organize"}),
	)
	organise.decision == false
	t.codes(organise) == {"catch_all_decided_as_act", "action_not_granted", "outside_role_duties"}
	unguided := t.decide(
		t.assistant,
		"task.assigned",
		t.sole_case,
		{"assigned_by": "p-A1", "assigned_task": "evidence.collect"},
	)
	t.codes(unguided) == {"catch_all_decided_as_act", "assistant_requires_guidance"}
}

# A17: free text naming a power the Opinion gives to others is denied, naming the act.
test_assistant_free_text_task_naming_reserved_power_denied if {
	every task in ["组织搜查张某住所", "决定起诉", "向上级院请示本案处理意见", "宣读起诉书", "Decide to prosecute the suspect"] {
		d := t.decide(t.assistant, "task.assigned", t.sole_case, object.union(t.assigned, {"assigned_task": task}))
		d.decision == false
		t.codes(d) == {"task_names_reserved_power"}
	}
}

# A17: free text naming only the assistant's own duties, or none, stays a catch-all task.
test_assistant_free_text_task_within_own_duties_allowed if {
	every task in ["讯问犯罪嫌疑人张某并制作笔录", "核实证据清单", "collate the seizure list", "整理讯问笔录"] {
		d := t.decide(t.assistant, "task.assigned", t.sole_case, object.union(t.assigned, {"assigned_task": task}))
		d.decision == true
	}
}

# 十七, R17-0: the supervising procurator is recorded; the assistant answers for own work (三十一).
test_assistant_allowed_act_records_supervisor_and_own_responsibility if {
	d := t.decide(t.assistant, "document.draft", t.sole_case, t.guided)
	d.decision == true
	t.obligation_codes(d) == {"record_supervising_procurator"}
	d.accountable == {{
		"subject_id": "asst-A1",
		"capacity": "procurator_assistant",
		"responsibility": "judicial",
		"article": "三十一",
	}}
}

# ------------------------------------------------------------------ 十九 clerks

# 十九(1)–(5): every clerical duty is allowed under guidance, citing its item. (R19-1, R19-2, R19-3, R19-4, R19-5)
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

# 十九: "在检察官指导下" — no guiding procurator named, so deny. (R19-0)
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

# R19-X, A17: clerks do clerical work only — no drafting, interrogation, questioning or measures;
# each denial cites the article giving the act to others and the clerk's own (十九).
test_clerk_non_clerical_acts_denied if {
	every act in {
		"document.draft",
		"case.interrogate_suspect",
		"case.question_witness",
		"measure.carry_out",
		"decision.prosecute",
	} {
		d := t.decide(t.clerk, act, t.sole_case, t.guided)
		d.decision == false
		t.codes(d) == {"action_not_granted", "outside_role_duties"}
		"十九" in t.articles(d)
	}
}

# 十九(5): an assigned task names who assigned it.
test_clerk_task_without_assignment_denied if {
	d := t.decide(t.clerk, "task.assigned", t.sole_case, object.remove(t.assigned, ["assigned_by"]))
	d.decision == false
	t.codes(d) == {"clerk_task_requires_assignment"}
}

# 十九(5), A17: drafting is not clerical work, even when assigned: decided as drafting.
test_clerk_task_to_draft_document_denied if {
	d := t.decide(t.clerk, "task.assigned", t.sole_case, object.union(t.assigned, {"assigned_task": "document.draft"}))
	d.decision == false
	t.codes(d) == {"catch_all_decided_as_act", "action_not_granted", "outside_role_duties"}
	some r in d.reasons
	r.code == "catch_all_decided_as_act"
	[r.article, r.item] == ["十九", 5]
}

# 十九(5), A17: free text naming drafting or an interrogation is not clerical work either;
# printing an indictment or filing interrogation records is.
test_clerk_free_text_tasks if {
	every task in ["起草不起诉决定书", "讯问犯罪嫌疑人", "draft the indictment"] {
		d := t.decide(t.clerk, "task.assigned", t.sole_case, object.union(t.assigned, {"assigned_task": task}))
		t.codes(d) == {"task_names_reserved_power"}
	}
	every task in ["打印起诉书三份", "整理讯问笔录并归档", "print the draft indictment"] {
		d := t.decide(t.clerk, "task.assigned", t.sole_case, object.union(t.assigned, {"assigned_task": task}))
		d.decision == true
	}
}

# 十九(5), A17: an act id spelt loosely is still that act, decided as it; a task of blanks or
# punctuation names nothing.
test_clerk_task_naming_an_act_loosely_decided_as_that_act if {
	every task in ["decision.prosecute.", "decision_prosecute", "ｄｅｃｉｓｉｏｎ．ｐｒｏｓｅｃｕｔｅ", "decision.prosecute (本案)"] {
		d := t.decide(t.clerk, "task.assigned", t.sole_case, object.union(t.assigned, {"assigned_task": task}))
		d.decision == false
		t.codes(d) == {"catch_all_decided_as_act", "action_not_granted", "outside_role_duties"}
	}
	every task in [" ", "-", "."] {
		d := t.decide(t.clerk, "task.assigned", t.sole_case, object.union(t.assigned, {"assigned_task": task}))
		t.codes(d) == {"task_not_named"}
	}
}

# 十九(2)–(4), A17: clerical work about a summons, a decision or an interrogation is the clerk's;
# deciding, appearing in court, interrogating or drafting is not, however it is phrased.
test_clerk_free_text_clerical_and_reserved if {
	every task in ["送达传唤证", "打印已作出的不起诉决定书", "讯问时担任记录", "询问证人时做笔录", "装订审批表"] {
		d := t.decide(t.clerk, "task.assigned", t.sole_case, object.union(t.assigned, {"assigned_task": task}))
		d.decision == true
	}
	every task in ["决定对张某不起诉", "代替检察官出庭", "审讯犯罪嫌疑人", "制作起诉书", "查阅法院卷宗", "送达起诉书并决定起诉"] {
		d := t.decide(t.clerk, "task.assigned", t.sole_case, object.union(t.assigned, {"assigned_task": task}))
		t.codes(d) == {"task_names_reserved_power"}
	}
}

# 十九 "在检察官指导下": before the case has handling procurators the guide must still be a
# procurator of its procuratorate — not an assistant, a stranger, another procuratorate's
# procurator or one who left the quota.
test_clerk_guided_by_someone_not_a_procurator_denied if {
	unassigned := {
		"type": "case",
		"id": "C-3003",
		"properties": {"procuratorate": "PROC-CITY-A", "assigned_auxiliaries": ["clerk-C1"]},
	}
	every guide in ["asst-A1", "nobody-123", "p-K1", "p-R1"] {
		d := t.decide(t.clerk, "case.receive_register", unassigned, {"supervising_procurator": guide})
		d.decision == false
		"supervisor_not_procurator" in t.codes(d)
	}
}

# 十九 last paragraph, A18: a chief handling the case is one of its procurators and may assign a
# clerk to the assistant.
test_chief_handling_case_assigns_clerk_allowed if {
	chief_case := {
		"type": "case",
		"id": "C-1001",
		"properties": object.union(t.sole_case.properties, {"sole_procurator": "chief-A"}),
	}
	d := t.decide(t.person("chief-A", "chief_procurator", {}), "clerk.assign_to_assistant", chief_case, {})
	d.decision == true
	t.codes(d) == {"procurator_assigns_clerk"}
}

# 十九(5) "检察官交办": the assigner is a procurator handling the case.
test_clerk_task_assigned_by_someone_not_handling_the_case_denied if {
	d := t.decide(t.clerk, "task.assigned", t.sole_case, object.union(t.assigned, {"assigned_by": "p-X9"}))
	t.codes(d) == {"assigner_not_handling_procurator"}
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

# ------------------------------------------------------------------ 十八 technical staff

technician := t.person("tech-T1", "technical_staff", {"department": "DEPT-TECH"})

# R18-0: assigned (指派) by the procurator handling the sole case.
tech_assigned := {"assigned_by": "p-A1", "assignment_type": "指派"}

inspection_case := {"type": "case", "id": "C-1001", "properties": object.union(t.sole_case.properties, {
	"measure_type": "site_inspection", "object": "crime_scene",
})}

# 十八(1)–(5): every listed duty is allowed on a handling procurator's assignment, citing its item.
test_technician_each_listed_duty_on_assignment_allowed if {
	every act, item in auxiliary.technical_duties {
		d := t.decide(
			technician,
			act,
			inspection_case,
			object.union(tech_assigned, {"assigned_task": "photograph the exhibits"}),
		)
		d.decision == true
		d.reasons == {{
			"code": "technical_duty", "article": "十八", "item": item,
			"message_zh": object.get(data.quanze.messages, ["technical_duty", "zh"], "technical_duty"),
			"message_en": object.get(data.quanze.messages, ["technical_duty", "en"], "technical_duty"),
		}}
	}
}

# 十八(1) "勘验或者检查": an examination of a person is allowed.
test_technician_examines_person_allowed if {
	res := {
		"type": "case",
		"id": "C-1001",
		"properties": object.union(t.sole_case.properties, {"measure_type": "examination", "object": "person"}),
	}
	d := t.decide(technician, "measure.carry_out", res, tech_assigned)
	d.decision == true
	t.codes(d) == {"technical_duty"}
}

# 十八(1): the object need not be given; the measure type must.
test_technician_inspection_without_object_allowed if {
	res := {
		"type": "case",
		"id": "C-1001",
		"properties": object.union(t.sole_case.properties, {"measure_type": "site_inspection"}),
	}
	d := t.decide(technician, "measure.carry_out", res, tech_assigned)
	d.decision == true
}

# R18-0: "受检察官的指派、委托" — no assigning procurator, so deny.
test_technician_without_assignment_denied if {
	d := t.decide(technician, "forensic.appraise", t.sole_case, {})
	d.decision == false
	d.reasons == {{
		"code": "technical_requires_assignment", "article": "十八", "item": 0,
		"message_zh": object.get(
			data.quanze.messages,
			["technical_requires_assignment", "zh"],
			"technical_requires_assignment",
		),
		"message_en": object.get(
			data.quanze.messages,
			["technical_requires_assignment", "en"],
			"technical_requires_assignment",
		),
	}}
}

# R18-0: an empty assigned_by names nobody.
test_technician_with_empty_assigner_denied if {
	d := t.decide(technician, "evidence.technical_review", t.sole_case, {"assigned_by": ""})
	d.decision == false
	t.codes(d) == {"technical_requires_assignment"}
}

# R18-0: guidance (supervising_procurator) is not an assignment under 十八.
test_technician_guided_but_not_assigned_denied if {
	d := t.decide(
		technician,
		"technical.assist",
		t.sole_case,
		{"supervising_procurator": "p-A1", "assigned_task": "image the phone"},
	)
	d.decision == false
	t.codes(d) == {"technical_requires_assignment"}
}

# R18-0, A18: the assigning procurator must handle this case.
test_technician_assigned_by_procurator_of_another_case_denied if {
	d := t.decide(technician, "forensic.appraise", t.sole_case, {"assigned_by": "p-X9"})
	d.decision == false
	d.reasons == {{
		"code": "assigner_not_handling_procurator", "article": "十八", "item": 0,
		"message_zh": object.get(
			data.quanze.messages,
			["assigner_not_handling_procurator", "zh"],
			"assigner_not_handling_procurator",
		),
		"message_en": object.get(
			data.quanze.messages,
			["assigner_not_handling_procurator", "en"],
			"assigner_not_handling_procurator",
		),
	}}
}

# A18: any handling procurator may assign — here a team member who is not the lead, by 委托.
test_technician_entrusted_by_team_member_allowed if {
	d := t.decide(technician, "evidence.technical_review", t.team_case, {"assigned_by": "p-T2", "assignment_type": "委托"})
	d.decision == true
	t.codes(d) == {"technical_duty"}
}

# A18: a chief handling the case personally assigns as its procurator.
test_technician_assigned_by_chief_handling_case_allowed if {
	res := {
		"type": "case",
		"id": "C-1001",
		"properties": object.union(t.sole_case.properties, {"sole_procurator": "chief-A"}),
	}
	d := t.decide(technician, "forensic.appraise", res, {"assigned_by": "chief-A"})
	d.decision == true
}

# A18: a chief who does not handle the case is not an assigning procurator under 十八.
test_technician_assigned_by_chief_not_handling_case_denied if {
	d := t.decide(technician, "forensic.appraise", t.sole_case, {"assigned_by": "chief-A"})
	d.decision == false
	t.codes(d) == {"assigner_not_handling_procurator"}
}

# R18-0: the form, when stated, is 指派 or 委托.
test_technician_with_unrecognised_assignment_type_denied if {
	d := t.decide(technician, "investigation.assist", t.sole_case, {"assigned_by": "p-A1", "assignment_type": "guidance"})
	d.decision == false
	d.reasons == {{
		"code": "assignment_type_not_recognised", "article": "十八", "item": 0,
		"message_zh": object.get(
			data.quanze.messages,
			["assignment_type_not_recognised", "zh"],
			"assignment_type_not_recognised",
		),
		"message_en": object.get(
			data.quanze.messages,
			["assignment_type_not_recognised", "en"],
			"assignment_type_not_recognised",
		),
	}}
}

# R18-1, R18-X: search, sealing-up, seizure and freezing are not 勘验/检查.
test_technician_search_seal_seize_freeze_denied if {
	every measure in {"search", "seal_up", "seize", "freeze"} {
		res := {
			"type": "case",
			"id": "C-1001",
			"properties": object.union(t.sole_case.properties, {"measure_type": measure, "object": "item"}),
		}
		d := t.decide(technician, "measure.carry_out", res, tech_assigned)
		d.decision == false
		d.reasons == {{
			"code": "technical_measure_limited_to_inspection", "article": "十八", "item": 1,
			"message_zh": object.get(
				data.quanze.messages,
				["technical_measure_limited_to_inspection", "zh"],
				"technical_measure_limited_to_inspection",
			),
			"message_en": object.get(
				data.quanze.messages,
				["technical_measure_limited_to_inspection", "en"],
				"technical_measure_limited_to_inspection",
			),
		}}
	}
}

# R18-1: a measure that does not say what it is fails closed.
test_technician_measure_without_type_denied if {
	d := t.decide(technician, "measure.carry_out", t.sole_case, tech_assigned)
	d.decision == false
	t.codes(d) == {"technical_measure_limited_to_inspection"}
}

# R18-1: "与犯罪有关的场所、物品、人身、尸体" — any other object is denied.
test_technician_inspects_unrelated_object_denied if {
	res := {
		"type": "case",
		"id": "C-1001",
		"properties": object.union(
			t.sole_case.properties,
			{"measure_type": "site_inspection", "object": "office_of_unrelated_company"},
		),
	}
	d := t.decide(technician, "measure.carry_out", res, tech_assigned)
	d.decision == false
	some r in d.reasons
	r.code == "inspection_object_not_crime_related"
	r.article == "十八"
	r.item == 1
	t.codes(d) == {"inspection_object_not_crime_related"}
}

# R18-1 with R18-0: every missing condition is its own reason.
test_technician_unassigned_search_denied_with_every_reason if {
	res := {"type": "case", "id": "C-1001", "properties": object.union(t.sole_case.properties, {"measure_type": "search"})}
	d := t.decide(technician, "measure.carry_out", res, {})
	t.codes(d) == {"technical_requires_assignment", "technical_measure_limited_to_inspection"}
}

# R18-X: interrogation, questioning, organising measures and decisions are not 十八 duties.
test_technician_interrogation_questioning_decisions_denied if {
	every act in {
		"case.interrogate_suspect",
		"case.question_witness",
		"measure.organize",
		"evidence.review",
		"decision.prosecute",
		"decision.not_prosecute",
		"opinion.review",
	} {
		d := t.decide(technician, act, t.sole_case, tech_assigned)
		d.decision == false
		t.codes(d) == {"action_not_granted", "outside_role_duties"}
		"十八" in t.articles(d)
	}
}

# R18-X: interrogation is denied citing its governing article 十四(1).
test_technician_interrogates_suspect_denied if {
	d := t.decide(technician, "case.interrogate_suspect", t.sole_case, tech_assigned)
	d.decision == false
	some r in d.reasons
	r.code == "action_not_granted"
	r.article == "十四"
	r.item == 1
}

# 十八(5), A17: the catch-all names its task.
test_technician_unnamed_technical_task_denied if {
	d := t.decide(technician, "technical.assist", t.sole_case, tech_assigned)
	d.decision == false
	some r in d.reasons
	r.code == "task_not_named"
	r.article == "十八"
	r.item == 5
}

# 十八(5), A17, R18-X: the catch-all cannot confer interrogation or a procurator's decision: a
# catalogued act is decided as itself, free text naming one is denied.
test_technician_technical_task_naming_another_roles_act_denied if {
	every task in {"case.interrogate_suspect", "decision.prosecute", "measure.organize"} {
		d := t.decide(technician, "technical.assist", t.sole_case, object.union(tech_assigned, {"assigned_task": task}))
		d.decision == false
		"catch_all_decided_as_act" in t.codes(d)
	}
	free := t.decide(
		technician,
		"technical.assist",
		t.sole_case,
		object.union(tech_assigned, {"assigned_task": "讯问犯罪嫌疑人"}),
	)
	some r in free.reasons
	r.code == "task_names_reserved_power"
	[r.article, r.item] == ["十八", 5]
}

# R18-2: an appraisal carries the obligation to issue an appraisal opinion.
test_technician_appraisal_obliges_appraisal_opinion_allowed if {
	d := t.decide(technician, "forensic.appraise", t.sole_case, tech_assigned)
	d.decision == true
	d.obligations == {{
		"code": "issue_appraisal_opinion", "article": "十八", "item": 2,
		"message_zh": object.get(data.quanze.messages, ["issue_appraisal_opinion", "zh"], "issue_appraisal_opinion"),
		"message_en": object.get(data.quanze.messages, ["issue_appraisal_opinion", "en"], "issue_appraisal_opinion"),
	}}
}

# R18-3: a technical review carries the obligation to issue a review opinion.
test_technician_technical_review_obliges_review_opinion_allowed if {
	d := t.decide(technician, "evidence.technical_review", t.sole_case, tech_assigned)
	d.decision == true
	some o in d.obligations
	o.code == "issue_review_opinion"
	o.article == "十八"
	o.item == 3
	t.obligation_codes(d) == {"issue_review_opinion"}
}

# R18-4: assisting the collection of evidence carries no opinion obligation.
test_technician_assists_evidence_collection_allowed if {
	d := t.decide(technician, "evidence.collect", t.team_case, {"assigned_by": "p-L1"})
	d.decision == true
	t.obligation_codes(d) == set()
}

# 三十一, P10: technical staff answer for their own work.
test_technician_allowed_act_own_responsibility if {
	d := t.decide(technician, "forensic.appraise", t.sole_case, tech_assigned)
	d.accountable == {{
		"subject_id": "tech-T1",
		"capacity": "technical_staff",
		"responsibility": "judicial",
		"article": "三十一",
	}}
}

# 十八 grants are for the technical_staff role only: an assistant may not appraise (R17-X).
test_assistant_forensic_appraisal_denied if {
	d := t.decide(t.assistant, "forensic.appraise", t.sole_case, object.union(t.guided, tech_assigned))
	d.decision == false
	t.codes(d) == {"action_not_granted", "outside_role_duties"}
}

# ------------------------------------------------------------------ 二十 judicial police

# 十八(1), R18-X, A17: free text cannot turn technical support into a search, a seizure or an
# interrogation; recording an interrogation is technical work.
test_technician_free_text_naming_measures_denied if {
	every task in ["搜查犯罪嫌疑人住处", "扣押涉案手机", "冻结银行账户", "search of the suspect's home", "审讯犯罪嫌疑人"] {
		d := t.decide(technician, "technical.assist", t.sole_case, object.union(tech_assigned, {"assigned_task": task}))
		t.codes(d) == {"task_names_reserved_power"}
	}
	d := t.decide(
		technician,
		"technical.assist",
		t.sole_case,
		object.union(tech_assigned, {"assigned_task": "制作讯问同步录音录像"}),
	)
	d.decision == true
}

police := t.person("police-J1", "judicial_police", {"department": "DEPT-POLICE"})

directly_filed_case := {
	"type": "case",
	"id": "C-1001",
	"properties": object.union(t.sole_case.properties, {"directly_filed_investigation": true}),
}

# 二十, R20-1, A19: every listed police duty is allowed with no guidance or assignment.
test_police_each_listed_duty_without_guidance_allowed if {
	every act in auxiliary.police_duties {
		d := t.decide(police, act, directly_filed_case, {})
		d.decision == true
		d.reasons == {{
			"code": "police_duty", "article": "二十", "item": 0,
			"message_zh": object.get(data.quanze.messages, ["police_duty", "zh"], "police_duty"),
			"message_en": object.get(data.quanze.messages, ["police_duty", "en"], "police_duty"),
		}}
		d.obligations == set()
	}
}

# 二十: escorting a person needs no directly filed case.
test_police_escorts_person_in_ordinary_case_allowed if {
	d := t.decide(police, "person.escort", t.sole_case, {})
	d.decision == true
}

# 二十 "人民检察院直接立案侦查案件犯罪现场保护": absent flag means not directly filed.
test_police_protects_scene_of_case_not_directly_filed_denied if {
	d := t.decide(police, "police.protect_scene", t.sole_case, {})
	d.decision == false
	d.reasons == {{
		"code": "scene_protection_requires_direct_filing", "article": "二十", "item": 0,
		"message_zh": object.get(
			data.quanze.messages,
			["scene_protection_requires_direct_filing", "zh"],
			"scene_protection_requires_direct_filing",
		),
		"message_en": object.get(
			data.quanze.messages,
			["scene_protection_requires_direct_filing", "en"],
			"scene_protection_requires_direct_filing",
		),
	}}
}

# 二十: a false flag, or a non-boolean one, is not a directly filed case.
test_police_protects_scene_with_false_or_string_flag_denied if {
	every flag in [false, "true"] {
		res := {
			"type": "case",
			"id": "C-1001",
			"properties": object.union(t.sole_case.properties, {"directly_filed_investigation": flag}),
		}
		d := t.decide(police, "police.protect_scene", res, {})
		d.decision == false
		t.codes(d) == {"scene_protection_requires_direct_filing"}
	}
}

# R20-X: interrogation, questioning and decisions are not police duties.
test_police_interrogation_questioning_decisions_denied if {
	every act in {
		"case.interrogate_suspect",
		"case.question_witness",
		"measure.carry_out",
		"decision.prosecute",
		"opinion.review",
		"record.take",
	} {
		d := t.decide(police, act, directly_filed_case, t.assigned)
		d.decision == false
		t.codes(d) == {"action_not_granted", "outside_role_duties"}
		"二十" in t.articles(d)
	}
}

# 三十一, P10: police answer for their own work.
test_police_allowed_act_own_responsibility if {
	d := t.decide(police, "hearing.maintain_order", t.sole_case, {})
	d.accountable == {{
		"subject_id": "police-J1",
		"capacity": "judicial_police",
		"responsibility": "judicial",
		"article": "三十一",
	}}
}

# 四: the police guard only the premises of their own procuratorate's cases (common condition).
test_police_guards_premises_of_other_procuratorate_case_denied if {
	res := {
		"type": "case",
		"id": "C-1001",
		"properties": object.union(t.sole_case.properties, {"procuratorate": "PROC-CITY-B"}),
	}
	d := t.decide(police, "police.guard_premises", res, {})
	d.decision == false
	"procuratorate_mismatch" in t.codes(d)
}

# ------------------------------------------------------------------ 十九 last paragraph

handling_procurator := t.person("p-A1", "procurator", {})

# R19-6: "检察官可以指派书记员配合检察官助理开展工作" — the handling procurator may.
test_procurator_assigns_clerk_to_assistant_allowed if {
	d := t.decide(handling_procurator, "clerk.assign_to_assistant", t.sole_case, {})
	d.decision == true
	d.reasons == {{
		"code": "procurator_assigns_clerk", "article": "十九", "item": 0,
		"message_zh": object.get(data.quanze.messages, ["procurator_assigns_clerk", "zh"], "procurator_assigns_clerk"),
		"message_en": object.get(data.quanze.messages, ["procurator_assigns_clerk", "en"], "procurator_assigns_clerk"),
	}}
}

# R19-6: any procurator of the team handles the case.
test_team_procurator_assigns_clerk_to_assistant_allowed if {
	d := t.decide(t.person("p-T2", "procurator", {}), "clerk.assign_to_assistant", t.team_case, {})
	d.decision == true
}

# R19-6: a procurator who does not handle the case may not assign on it.
test_procurator_of_another_case_assigns_clerk_denied if {
	d := t.decide(t.person("p-X9", "procurator", {}), "clerk.assign_to_assistant", t.sole_case, {})
	d.decision == false
	d.reasons == {{
		"code": "clerk_assignment_requires_handling_procurator", "article": "十九", "item": 0,
		"message_zh": object.get(
			data.quanze.messages,
			["clerk_assignment_requires_handling_procurator", "zh"],
			"clerk_assignment_requires_handling_procurator",
		),
		"message_en": object.get(
			data.quanze.messages,
			["clerk_assignment_requires_handling_procurator", "en"],
			"clerk_assignment_requires_handling_procurator",
		),
	}}
}

# R19-6: a case with no handling procurator yet has nobody who may assign on it.
test_procurator_assigns_clerk_on_unassigned_case_denied if {
	unassigned := {
		"type": "case",
		"id": "C-3003",
		"properties": {"procuratorate": "PROC-CITY-A", "department": "DEPT-CRIM-1"},
	}
	d := t.decide(handling_procurator, "clerk.assign_to_assistant", unassigned, {})
	d.decision == false
	t.codes(d) == {"clerk_assignment_requires_handling_procurator"}
}

# R19-6: the assignment is a procurator's; auxiliaries cannot make it.
test_assistant_or_clerk_assigns_clerk_denied if {
	every subject in [t.assistant, t.clerk, technician, police] {
		d := t.decide(subject, "clerk.assign_to_assistant", t.sole_case, t.assigned)
		d.decision == false
		"action_not_granted" in t.codes(d)
	}
}

# 二十九 (P1), not 三十一 (P12): the handling procurator answers for their own assignment.
test_procurator_assigns_clerk_own_responsibility if {
	d := t.decide(handling_procurator, "clerk.assign_to_assistant", t.sole_case, {})
	d.accountable == {{
		"subject_id": "p-A1",
		"capacity": "handling_procurator",
		"responsibility": "judicial",
		"article": "二十九",
	}}
}

# ------------------------------------------------------------------ whole-catalog agreement

# ListAllowedActions agrees with Check for technical staff and police.
test_new_roles_list_agrees_with_check if {
	every subject in [technician, police] {
		ds := data.quanze.authz.decisions with input as {
			"subject": subject,
			"resource": inspection_case,
			"context": tech_assigned,
		}
		every act, listed in ds {
			listed == t.decide(subject, act, inspection_case, tech_assigned)
		}
	}
}

# ListAllowedActions: exactly the 十八 and 二十 duties are allowed to their roles.
# Duties the Opinion gives every member of staff (四十 online work, 四十三 interference records).
everyones_duties := {"system.record_online", "interference.record_report"}

test_new_roles_allowed_exactly_their_duties if {
	tech := data.quanze.authz.decisions with input as {
		"subject": technician,
		"resource": inspection_case,
		"context": object.union(tech_assigned, {"assigned_task": "image the phone"}),
	}
	{act |
		some act, d in tech
		d.decision == true
		not act in everyones_duties
	} == {act | some act, _ in auxiliary.technical_duties}
	pol := data.quanze.authz.decisions with input as {"subject": police, "resource": directly_filed_case, "context": {}}
	{act | some act, d in pol; d.decision == true; not act in everyones_duties} == auxiliary.police_duties
}

# 十七(6), 四十六, A16: the chief's approval may come from a delegate whose delegation covers it
# (dep-D5) — cited as such — but not from a department head or an undelegated deputy.
approved_by(approver) := object.union(t.court_approval, {"approved_by": approver})

test_senior_assistant_court_approval_by_delegate_or_not if {
	by_delegate := t.decide(t.senior_assistant, "court.present_evidence", t.sole_case, approved_by("dep-D5"))
	by_delegate.decision == true
	"approved_by_delegate" in t.codes(by_delegate)
	every approver in ["dh-A1", "dep-D2"] {
		d := t.decide(t.senior_assistant, "court.present_evidence", t.sole_case, approved_by(approver))
		t.codes(d) == {"approver_not_chief", "approver_holds_no_delegation"}
	}
}

# 三十一: objecting to or executing an instruction names it, and it comes from a procurator
# handling the case.
test_instruction_must_name_a_handling_procurator if {
	instruction := object.union(t.guided, {"decision_source": "procurator"})
	t.codes(t.decide(t.assistant, "decision.object", t.sole_case, instruction)) == {"instruction_source_required"}
	stranger := object.union(instruction, {"instructed_by": "p-X9"})
	t.codes(t.decide(t.assistant, "decision.object", t.sole_case, stranger)) == {"instructor_not_handling_procurator"}
}

# 十九(5): before a case has handling procurators, a procurator of its procuratorate may assign
# the clerk a task; a procurator of another procuratorate may not.
test_clerk_task_on_incoming_case_assigned_by_a_procurator_of_the_procuratorate if {
	incoming := {
		"type": "case",
		"id": "C-3003",
		"properties": {"procuratorate": "PROC-CITY-A", "assigned_auxiliaries": ["clerk-C1"]},
	}
	ok := t.decide(
		t.clerk,
		"task.assigned",
		incoming,
		{"supervising_procurator": "p-A1", "assigned_by": "p-A1", "assigned_task": "装订卷宗"},
	)
	ok.decision == true
	other := t.decide(
		t.clerk,
		"task.assigned",
		incoming,
		{"supervising_procurator": "p-A1", "assigned_by": "p-K1", "assigned_task": "装订卷宗"},
	)
	t.codes(other) == {"assigner_not_handling_procurator"}
}
