# METADATA
# title: Auxiliary staff (十七–二十)
# description: |
#   Assistants act only under the guidance of a procurator handling the case
#   (十七); technical staff act on a handling procurator's assignment or
#   entrustment (十八); clerks do clerical work under a procurator's guidance
#   and may be assigned to support an assistant (十九); judicial police carry
#   out the police duties of 二十 without a guidance condition (A19).
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

# A15: "高阶段" is the HR attribute subject.properties.senior_stage, set from the grade threshold.
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
	not capacity.chief_approval_recorded
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

# 十九, last paragraph (R19-6): "检察官可以指派书记员配合检察官助理开展工作". The acting role is
# procurator; the assignment concerns this case, so only a procurator handling it may make it.
_clerk_assignment_acts contains act if {
	capacity.role == "procurator"
	some act in scope.actions
	act == "clerk.assign_to_assistant"
}

grants contains {"action": act, "code": "procurator_assigns_clerk", "article": "十九", "item": 0} if {
	some act in _clerk_assignment_acts
}

denials contains {
	"action": act,
	"code": "clerk_assignment_requires_handling_procurator",
	"article": "十九",
	"item": 0,
} if {
	not capacity.handles_case
	some act in _clerk_assignment_acts
}

# ---------------------------------------------------------------- 十八 technical staff

# 十八: duties technical staff may perform on a procurator's assignment or entrustment, by item.
# Absent on purpose (R18-X): search, sealing-up, seizure, freezing (十八(1) lists only 勘验/检查),
# interrogation, questioning and every decision — those fall to the default deny.
technical_duties := {
	"measure.carry_out": 1,
	"forensic.appraise": 2,
	"evidence.technical_review": 3,
	"investigation.assist": 4,
	"evidence.collect": 4,
	"technical.assist": 5,
}

# 十八(1): "勘验或者检查" — the only measures technical staff carry out.
technical_measures := {"site_inspection", "examination"}

# 十八(1): "与犯罪有关的场所、物品、人身、尸体".
inspection_objects := {"crime_scene", "item", "person", "corpse"}

# 十八: "受检察官的指派、委托" — the two forms an assignment may take, when the request says which.
assignment_types := {"指派", "委托"}

# A17: the 十八(5) catch-all must not confer what the Opinion gives to procurators (see
# reserved_tasks) nor the assistants' interrogation and questioning (十七(1), R18-X), nor
# organising a measure (十四(4), A13).
reserved_technical_tasks := reserved_tasks | {"case.interrogate_suspect", "case.question_witness", "measure.organize"}

_technical_acts contains act if {
	capacity.role == "technical_staff"
	some act in scope.actions
	technical_duties[act]
}

grants contains {"action": act, "code": "technical_duty", "article": "十八", "item": technical_duties[act]} if {
	some act in _technical_acts
}

# R18-0: an absent or empty assigned_by is no assignment.
denials contains {"action": act, "code": "technical_requires_assignment", "article": "十八", "item": 0} if {
	not capacity.named(capacity.ctx.assigned_by)
	some act in _technical_acts
}

# R18-0, A18: the assigning procurator handles this case (sole, lead or team member — a chief
# handling the case personally is one of them).
denials contains {"action": act, "code": "assigner_not_handling_procurator", "article": "十八", "item": 0} if {
	capacity.named(capacity.ctx.assigned_by)
	not capacity.assigned_by_handling_procurator
	some act in _technical_acts
}

# R18-0: the form need not be given, but when given it is 指派 or 委托.
denials contains {"action": act, "code": "assignment_type_not_recognised", "article": "十八", "item": 0} if {
	_unrecognised_assignment_type
	some act in _technical_acts
}

# object.get, not a bare reference: both engines must agree that an absent form is unstated.
_unrecognised_assignment_type if {
	given := object.get(capacity.ctx, "assignment_type", null)
	given != null
	not given in assignment_types
}

# R18-1, R18-X: only 勘验/检查; a search, sealing-up, seizure, freeze or an unnamed measure is denied.
denials contains {"action": "measure.carry_out", "code": "technical_measure_limited_to_inspection", "article": "十八", "item": 1} if {
	not capacity.resource_props.measure_type in technical_measures
	"measure.carry_out" in _technical_acts
}

# R18-1: the object, when given, is a crime-related place, item, person or corpse.
denials contains {"action": "measure.carry_out", "code": "inspection_object_not_crime_related", "article": "十八", "item": 1} if {
	_object_not_crime_related
	"measure.carry_out" in _technical_acts
}

_object_not_crime_related if {
	given := object.get(capacity.resource_props, "object", null)
	given != null
	not given in inspection_objects
}

# A17: the 十八(5) catch-all names its task and confers no reserved power.
denials contains {"action": "technical.assist", "code": "task_not_named", "article": "十八", "item": 5} if {
	not capacity.named(capacity.ctx.assigned_task)
	"technical.assist" in _technical_acts
}

denials contains {"action": "technical.assist", "code": "task_reserved_to_another_role", "article": "十八", "item": 5} if {
	capacity.ctx.assigned_task in reserved_technical_tasks
	"technical.assist" in _technical_acts
}

# R18-2: "进行鉴定并出具鉴定意见".
obligations contains {"action": "forensic.appraise", "code": "issue_appraisal_opinion", "article": "十八", "item": 2} if {
	"forensic.appraise" in _technical_acts
}

# R18-3: "进行专门审查并出具审查意见".
obligations contains {"action": "evidence.technical_review", "code": "issue_review_opinion", "article": "十八", "item": 3} if {
	"evidence.technical_review" in _technical_acts
}

# ---------------------------------------------------------------- 二十 judicial police

# 二十: the police duties the Opinion lists ("…等警务事项"). A19: this is the one list to extend
# with the duties of the 《人民检察院司法警察条例》 (outside the source page, R20-2).
# Interrogation, questioning and decisions are not police duties (R20-X): default deny.
police_duties := {
	"police.guard_premises",
	"police.protect_scene",
	"person.escort",
	"person.guard",
	"police.secure_investigation",
	"hearing.maintain_order",
	"police.protect_procurator",
}

# A19: 二十 sets no guidance or assignment condition for police duties.
_police_acts contains act if {
	capacity.role == "judicial_police"
	some act in scope.actions
	act in police_duties
}

grants contains {"action": act, "code": "police_duty", "article": "二十", "item": 0} if {
	some act in _police_acts
}

# 二十 "人民检察院直接立案侦查案件犯罪现场保护": only a directly filed case; absent means not.
denials contains {"action": "police.protect_scene", "code": "scene_protection_requires_direct_filing", "article": "二十", "item": 0} if {
	not capacity.resource_props.directly_filed_investigation == true
	"police.protect_scene" in _police_acts
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
	some act in ((_assistant_acts | _clerk_acts) | _technical_acts) | _police_acts
}

# R19-6: the procurator answers for assigning the clerk. The assignment is the procurator's own
# act in handling the case, and 二十九 makes the procurator who handles the case answer for it
# (P1, P2: "其他检察官对自己的行为负责"). 三十一 para. 3 (P12) is not the basis: it covers only an
# instruction to violate duty, a fault the service cannot see when it allows a lawful assignment;
# the clerk still answers for their own work under 三十一 (P10) through their own acts.
accountable contains {
	"action": act,
	"subject_id": input.subject.id,
	"capacity": "handling_procurator",
	"responsibility": "judicial",
	"article": "二十九",
} if {
	some act in _clerk_assignment_acts
}
