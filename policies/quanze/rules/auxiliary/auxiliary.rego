# METADATA
# title: Auxiliary staff (十七–二十)
# description: |
#   Assistants act only under the guidance of a procurator handling the case
#   (十七); clerks do clerical work under a procurator's guidance (十九).
#   Every duty cites the item of the article that lists it.
package quanze.rules.auxiliary

import rego.v1

import data.quanze.lib.capacity
import data.quanze.lib.scope

# 十七: duties an assistant may perform under guidance, by item.
# Absent on purpose (R17-X, A12, A14, A17): summoning, organising measures,
# assessing evidence, presiding, the procurator's own court roles, court files.
assistant_duties := {
	"case.interrogate_suspect": 1,
	"case.question_witness": 1,
	"lawyer.receive": 2,
	"evidence.collect": 3,
	"evidence.obtain": 3,
	"evidence.verify": 3,
	"investigation.assist": 3,
	"measure.carry_out": 4,
	"case.review_materials": 5,
	"document.draft": 5,
	"court.assist": 6,
	"court.present_evidence": 6,
	"court.state_opinion": 6,
	"court.debate": 6,
	"task.assigned": 7,
}

# 十七(6): court work a senior-stage assistant may do only with the chief's
# approval and after the procurator has spoken on the main facts and law.
senior_court_duties := {"court.present_evidence", "court.state_opinion", "court.debate"}

# A17: a task assigned under 十七(7) or 十九(5) must not confer powers the Opinion gives
# to procurators: decisions, summoning, presiding, the procurator's own court roles,
# death-penalty supervision; for clerks, drafting too.
reserved_tasks := {
	"decision.prosecute", "decision.not_prosecute", "decision.protest",
	"decision.procuratorial_suggestion", "decision.other_decisive", "decision.procedural",
	"case.summon_suspect", "hearing.preside", "consultation.preside", "court.appear",
	"court.read_charging_document", "court.interrogate_defendant", "court.present_evidence",
	"court.debate", "court.state_opinion", "execution.supervise_death_penalty",
}

reserved_clerk_tasks := reserved_tasks | {"document.draft"}

# 十九: duties a clerk may perform under guidance, by item.
clerk_duties := {
	"clerical.prepare": 1,
	"record.take": 2,
	"case.receive_register": 3,
	"document.print": 3,
	"document.serve": 3,
	"materials.enter": 4,
	"materials.custody": 4,
	"materials.organize": 4,
	"file.bind": 4,
	"file.archive": 4,
	"task.assigned": 5,
}

_assistant_acts contains act if {
	capacity.role == "procurator_assistant"
	some act in scope.actions
	assistant_duties[act]
}

_clerk_acts contains act if {
	capacity.role == "clerk"
	some act in scope.actions
	clerk_duties[act]
}

# ---------------------------------------------------------------- 十七 assistants

grants contains {"action": act, "code": "assistant_duty", "item": assistant_duties[act]} if {
	some act in _assistant_acts
}

denials contains {"action": act, "code": "assistant_requires_guidance"} if {
	some act in _assistant_acts
	not capacity.names_supervisor
}

denials contains {"action": act, "code": "supervisor_not_handling_procurator"} if {
	some act in _assistant_acts
	capacity.names_supervisor
	not capacity.guided_by_handling_procurator
}

denials contains {"action": act, "code": "senior_stage_required"} if {
	some act in _assistant_acts
	act in senior_court_duties
	not capacity.subject_props.senior_stage == true
}

# A16: the approval is a record naming who approved (the chief, or a 四十六 delegate).
denials contains {"action": act, "code": "chief_approval_required"} if {
	some act in _assistant_acts
	act in senior_court_duties
	not _chief_approval_recorded
}

_chief_approval_recorded if {
	capacity.ctx.chief_approval == true
	capacity.named(capacity.ctx.approved_by)
}

# 十七(6) "补充发表出庭意见": the assistant's court opinion only supplements the procurator's.
denials contains {"action": "court.state_opinion", "code": "assistant_opinion_must_be_supplementary"} if {
	"court.state_opinion" in _assistant_acts
	not capacity.ctx.opinion_mode == "supplementary"
}

denials contains {"action": act, "code": "procurator_must_speak_first"} if {
	some act in _assistant_acts
	act in senior_court_duties
	not capacity.ctx.procurator_spoke_on_main_issues == true
}

denials contains {"action": "task.assigned", "code": "task_not_assigned_by_handling_procurator"} if {
	"task.assigned" in _assistant_acts
	not capacity.assigned_by_handling_procurator
}

denials contains {"action": "task.assigned", "code": "task_not_named"} if {
	"task.assigned" in _assistant_acts
	not capacity.named(capacity.ctx.assigned_task)
}

denials contains {"action": "task.assigned", "code": "task_reserved_to_another_role"} if {
	"task.assigned" in _assistant_acts
	capacity.ctx.assigned_task in reserved_tasks
}

obligations contains {"action": act, "code": "record_supervising_procurator"} if {
	some act in _assistant_acts
}

obligations contains {"action": act, "code": "keep_chief_approval_record"} if {
	some act in _assistant_acts
	act in senior_court_duties
}

# ---------------------------------------------------------------- 十九 clerks

grants contains {"action": act, "code": "clerk_duty", "item": clerk_duties[act]} if {
	some act in _clerk_acts
}

denials contains {"action": act, "code": "clerk_requires_guidance"} if {
	some act in _clerk_acts
	not capacity.names_supervisor
}

# §1.2: once the case has handling procurators, one of them guides. Before that (intake:
# receiving, registering, preparing the file) any named procurator may.
denials contains {"action": act, "code": "supervisor_not_handling_procurator", "article": "十九"} if {
	some act in _clerk_acts
	capacity.names_supervisor
	count(capacity.handling_procurators) > 0
	not capacity.guided_by_handling_procurator
}

denials contains {"action": "task.assigned", "code": "clerk_task_requires_assignment"} if {
	"task.assigned" in _clerk_acts
	not capacity.named(capacity.ctx.assigned_by)
}

denials contains {"action": "task.assigned", "code": "task_not_named", "article": "十九", "item": 5} if {
	"task.assigned" in _clerk_acts
	not capacity.named(capacity.ctx.assigned_task)
}

denials contains {"action": "task.assigned", "code": "task_reserved_to_another_role", "article": "十九", "item": 5} if {
	"task.assigned" in _clerk_acts
	capacity.ctx.assigned_task in reserved_clerk_tasks
}

# A11: the guiding procurator is recorded on every act done under guidance.
obligations contains {"action": act, "code": "record_supervising_procurator", "article": "十九"} if {
	some act in _clerk_acts
}

# ---------------------------------------------------------------- 三十一 responsibility

# An auxiliary answers for their own work, not for the procurator's decision (P10).
accountable contains {
	"action": act,
	"subject_id": input.subject.id,
	"capacity": capacity.role,
	"responsibility": "judicial",
	"article": "三十一",
} if {
	some act in _assistant_acts | _clerk_acts
}
