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

# 十七: duties an assistant may perform under guidance, by item.
# Absent on purpose (R17-X, A12, A14, A17): summoning, organising measures,
# assessing evidence, presiding, the procurator's own court roles. Court files only as an
# assigned task (below).
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
	"court_file.access": 7,
}

# A17: an assistant consults or obtains court files (十四(8)) only as a task a handling procurator
# assigned, accompanying the procurator under 十七(7).
denials contains {"action": "court_file.access", "code": "court_file_access_only_as_assigned_task"} if {
	"court_file.access" in _assistant_acts
	not _assigned_court_file_access
}

_assigned_court_file_access if {
	scope_task := data.quanze.lib.scope.catalogued_task
	scope_task == "court_file.access"
	data.quanze.lib.capacity.assigned_by_handling_procurator
}

# A15: "高阶段" is the HR attribute subject.properties.senior_stage, set from the grade threshold.
# 十七(6): court work a senior-stage assistant may do only with the chief's
# approval and after the procurator has spoken on the main facts and law.
senior_court_duties := {"court.present_evidence", "court.state_opinion", "court.debate"}

# A17: the catch-alls 十七(7), 十八(5) and 十九(5) are allow-lists of what no other item covers. A
# task that is an act of the catalog is decided as that act (authz, lib/scope); free text that
# names an act (lib/tasks) must name one the role's own list has, outside the catch-all itself
# and the senior-stage court work 十七(6) conditions.
_names_reserved_power(own, article, item) := data.quanze.lib.tasks.names_outside(
	data.quanze.lib.capacity.ctx.assigned_task,
	own,
	article,
	item,
)

_assistant_own := object.remove(
	assistant_duties,
	["task.assigned", "court.present_evidence", "court.state_opinion", "court.debate"],
)

# 十八(1): technical staff carry out only 勘验/检查, which free text cannot show: a measure goes
# through measure.carry_out with its measure_type.
_technical_own := object.remove(technical_duties, ["technical.assist", "measure.carry_out"])

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
	data.quanze.lib.capacity.role == "procurator_assistant"
	some act in data.quanze.lib.scope.actions
	assistant_duties[act]
}

# The senior-stage court work 十七(6) asked for in this evaluation.
_senior_acts := _assistant_acts & senior_court_duties

_clerk_acts contains act if {
	data.quanze.lib.capacity.role == "clerk"
	some act in data.quanze.lib.scope.actions
	clerk_duties[act]
}

# ---------------------------------------------------------------- 十七 assistants

grants contains {"action": act, "code": "assistant_duty", "item": assistant_duties[act]} if {
	some act in _assistant_acts
}

denials contains {"action": act, "code": "assistant_requires_guidance"} if {
	some act in _assistant_acts
	not data.quanze.lib.capacity.names_supervisor
}

denials contains {"action": act, "code": "supervisor_not_handling_procurator"} if {
	some act in _assistant_acts
	data.quanze.lib.capacity.names_supervisor
	not data.quanze.lib.capacity.guided_by_handling_procurator
}

# 十七 "在检察官的指导下": the assistant works for the guiding procurator — the directory assigns
# it to them, or the case attaches it (五 "可以配备必要的检察辅助人员").
denials contains object.union({"action": act}, _unassigned("十七")) if {
	some act in _assistant_acts
	data.quanze.lib.capacity.names_supervisor
	not _works_for_supervisor
}

# A15: the senior stage is the directory's HR attribute, not the request's.
denials contains {"action": act, "code": "senior_stage_required"} if {
	some act in _senior_acts
	not data.quanze.lib.directory.senior_stage == true
}

# A16: the approval is a record naming who approved; the directory must show the approver is
# the chief, or the registry a delegation of this approval (四十六).
denials contains {"action": act, "code": "chief_approval_required"} if {
	some act in _senior_acts
	not data.quanze.lib.capacity.chief_approval_recorded
}

denials contains object.union({"action": act, "article": "十七", "item": 6}, problem) if {
	some act in _senior_acts
	some problem in _approval_problems
}

# A16: "one approval record per case or hearing, naming the assistant": an approval relied on
# must name this assistant.
denials contains {"action": act, "code": "approval_names_another_assistant"} if {
	some act in _senior_acts
	data.quanze.lib.capacity.ctx.chief_approval == true
	not data.quanze.lib.capacity.ctx.approved_assistant == input.subject.id
}

# A44: an assistant works within the guiding procurator's power, so criminal-procedure acts stay
# out of civil, administrative and public-interest cases for the assistant too.
denials contains {
	"action": act,
	"code": "criminal_power_outside_criminal_domain",
	"article": "十七",
	"item": assistant_duties[act],
} if {
	some act in _assistant_acts
	act in data.quanze.catalog.criminal_only
	not object.get(data.quanze.lib.capacity.resource_props, "domain", "criminal") == "criminal"
}

# 四十六: an approval given by the chief's delegate is cited as such.
grants contains {"action": act, "code": "approved_by_delegate", "article": "四十六", "item": 0} if {
	some act in _senior_acts
	_approved_by_delegate == true
}

# The chief's approval of senior court work, judged once whichever of the acts is asked for.
_approval_problems := data.quanze.lib.capacity.approval_problems("approval.senior_assistant_court")

default _approved_by_delegate := false

_approved_by_delegate if data.quanze.lib.capacity.approved_by_delegate("approval.senior_assistant_court")

# 十七(6) "补充发表出庭意见": the assistant's court opinion only supplements the procurator's.
denials contains {"action": "court.state_opinion", "code": "assistant_opinion_must_be_supplementary"} if {
	"court.state_opinion" in _assistant_acts
	not data.quanze.lib.capacity.ctx.opinion_mode == "supplementary"
}

denials contains {"action": act, "code": "procurator_must_speak_first"} if {
	some act in _senior_acts
	not data.quanze.lib.capacity.ctx.procurator_spoke_on_main_issues == true
}

denials contains {"action": "task.assigned", "code": "task_not_assigned_by_handling_procurator"} if {
	"task.assigned" in _assistant_acts
	not data.quanze.lib.capacity.assigned_by_handling_procurator
}

denials contains {"action": "task.assigned", "code": "task_not_named"} if {
	"task.assigned" in _assistant_acts
	not data.quanze.lib.tasks.named(data.quanze.lib.capacity.ctx.assigned_task)
}

denials contains object.union({"action": "task.assigned"}, problem) if {
	"task.assigned" in _assistant_acts
	problem := _names_reserved_power(_assistant_own, "十七", 7)
}

obligations contains {"action": act, "code": "record_supervising_procurator"} if {
	some act in _assistant_acts
}

obligations contains {"action": act, "code": "keep_chief_approval_record"} if {
	some act in _senior_acts
}

# ---------------------------------------------------------------- 十九 clerks

grants contains {"action": act, "code": "clerk_duty", "item": clerk_duties[act]} if {
	some act in _clerk_acts
}

denials contains {"action": act, "code": "clerk_requires_guidance"} if {
	some act in _clerk_acts
	not data.quanze.lib.capacity.names_supervisor
}

# §1.2: once the case has handling procurators, one of them guides. Before that (intake:
# receiving, registering, preparing the file) any named procurator may.
denials contains {"action": act, "code": "supervisor_not_handling_procurator", "article": "十九"} if {
	some act in _clerk_acts
	data.quanze.lib.capacity.names_supervisor
	count(data.quanze.lib.capacity.handling_procurators) > 0
	not data.quanze.lib.capacity.guided_by_handling_procurator
}

# 十九 "在检察官指导下": before the case has handling procurators, the guide must still be a
# procurator of the case's procuratorate, as the directory shows — not an assistant, a stranger,
# a procurator of another procuratorate or one who has left the quota.
denials contains {"action": act, "code": "supervisor_not_procurator", "article": "十九"} if {
	some act in _clerk_acts
	data.quanze.lib.capacity.names_supervisor
	count(data.quanze.lib.capacity.handling_procurators) == 0
	not data.quanze.lib.capacity.procurator_of_resource(data.quanze.lib.capacity.ctx.supervising_procurator)
}

denials contains {"action": "task.assigned", "code": "clerk_task_requires_assignment"} if {
	"task.assigned" in _clerk_acts
	not data.quanze.lib.capacity.named(data.quanze.lib.capacity.ctx.assigned_by)
}

# 十九(5) "检察官交办": the one who assigned the task is a procurator — once the case has handling
# procurators, one of them; before that, a procurator of the procuratorate in the directory.
denials contains {
	"action": "task.assigned",
	"code": "assigner_not_handling_procurator",
	"article": "十九",
	"item": 5,
} if {
	"task.assigned" in _clerk_acts
	assigner := data.quanze.lib.capacity.ctx.assigned_by
	data.quanze.lib.capacity.named(assigner)
	not _assigner_may_assign(assigner)
}

_assigner_may_assign(assigner) if assigner in data.quanze.lib.capacity.handling_procurators

_assigner_may_assign(assigner) if {
	count(data.quanze.lib.capacity.handling_procurators) == 0
	data.quanze.lib.capacity.procurator_of_resource(assigner)
}

denials contains {"action": "task.assigned", "code": "task_not_named", "article": "十九", "item": 5} if {
	"task.assigned" in _clerk_acts
	not data.quanze.lib.tasks.named(data.quanze.lib.capacity.ctx.assigned_task)
}

denials contains object.union({"action": "task.assigned"}, problem) if {
	"task.assigned" in _clerk_acts
	problem := _names_reserved_power(object.remove(clerk_duties, ["task.assigned"]), "十九", 5)
}

# 十九 "在检察官指导下": as for assistants, the clerk works for the guiding procurator.
denials contains object.union({"action": act}, _unassigned("十九")) if {
	some act in _clerk_acts
	data.quanze.lib.capacity.names_supervisor
	not _works_for_supervisor
}

_works_for_supervisor if data.quanze.lib.capacity.ctx.supervising_procurator in data.quanze.lib.directory.assigned_to

_works_for_supervisor if {
	input.subject.id in object.get(data.quanze.lib.capacity.resource_props, "assigned_auxiliaries", [])
}

_unassigned(article) := {
	"code": "supervisor_not_assigned",
	"article": article,
	"item": 0,
	"detail_zh": sprintf("名录：%s 配备给 %s；本案未配备其协助", [input.subject.id, _assigned_list]),
	"detail_en": sprintf(
		"per the directory %s works for %s, and the case does not attach them",
		[input.subject.id, _assigned_list],
	),
}

_assigned_list := concat(", ", sort(data.quanze.lib.directory.assigned_to)) if {
	count(data.quanze.lib.directory.assigned_to) > 0
}

_assigned_list := "none" if count(data.quanze.lib.directory.assigned_to) == 0

# A11: the guiding procurator is recorded on every act done under guidance.
obligations contains {"action": act, "code": "record_supervising_procurator", "article": "十九"} if {
	some act in _clerk_acts
}

# 十九, last paragraph (R19-6): "检察官可以指派书记员配合检察官助理开展工作". The subject acts
# as a procurator (A18: a chief, deputy or head handling the case is one of its procurators); the
# assignment concerns this case, so only a procurator handling it may make it.
_clerk_assignment_acts contains act if {
	data.quanze.lib.capacity.acts_as_procurator
	some act in data.quanze.lib.scope.actions
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
	not data.quanze.lib.capacity.handles_case
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

_technical_acts contains act if {
	data.quanze.lib.capacity.role == "technical_staff"
	some act in data.quanze.lib.scope.actions
	technical_duties[act]
}

grants contains {"action": act, "code": "technical_duty", "article": "十八", "item": technical_duties[act]} if {
	some act in _technical_acts
}

# R18-0: an absent or empty assigned_by is no assignment.
denials contains {"action": act, "code": "technical_requires_assignment", "article": "十八", "item": 0} if {
	not data.quanze.lib.capacity.named(data.quanze.lib.capacity.ctx.assigned_by)
	some act in _technical_acts
}

# R18-0, A18: the assigning procurator handles this case (sole, lead or team member — a chief
# handling the case personally is one of them).
denials contains {"action": act, "code": "assigner_not_handling_procurator", "article": "十八", "item": 0} if {
	data.quanze.lib.capacity.named(data.quanze.lib.capacity.ctx.assigned_by)
	not data.quanze.lib.capacity.assigned_by_handling_procurator
	some act in _technical_acts
}

# R18-0: the form need not be given, but when given it is 指派 or 委托.
denials contains {"action": act, "code": "assignment_type_not_recognised", "article": "十八", "item": 0} if {
	_unrecognised_assignment_type
	some act in _technical_acts
}

# object.get, not a bare reference: both engines must agree that an absent form is unstated.
_unrecognised_assignment_type if {
	given := object.get(data.quanze.lib.capacity.ctx, "assignment_type", null)
	given != null
	not given in assignment_types
}

# R18-1, R18-X: only 勘验/检查; a search, sealing-up, seizure, freeze or an unnamed measure is denied.
denials contains {
	"action": "measure.carry_out",
	"code": "technical_measure_limited_to_inspection",
	"article": "十八",
	"item": 1,
} if {
	not data.quanze.lib.capacity.resource_props.measure_type in technical_measures
	"measure.carry_out" in _technical_acts
}

# R18-1: the object, when given, is a crime-related place, item, person or corpse.
denials contains {
	"action": "measure.carry_out",
	"code": "inspection_object_not_crime_related",
	"article": "十八",
	"item": 1,
} if {
	_object_not_crime_related
	"measure.carry_out" in _technical_acts
}

_object_not_crime_related if {
	given := object.get(data.quanze.lib.capacity.resource_props, "object", null)
	given != null
	not given in inspection_objects
}

# A17: the 十八(5) catch-all names its task and confers no reserved power.
denials contains {"action": "technical.assist", "code": "task_not_named", "article": "十八", "item": 5} if {
	not data.quanze.lib.tasks.named(data.quanze.lib.capacity.ctx.assigned_task)
	"technical.assist" in _technical_acts
}

denials contains object.union({"action": "technical.assist"}, problem) if {
	"technical.assist" in _technical_acts
	problem := _names_reserved_power(_technical_own, "十八", 5)
}

# R18-2: "进行鉴定并出具鉴定意见".
obligations contains {"action": "forensic.appraise", "code": "issue_appraisal_opinion", "article": "十八", "item": 2} if {
	"forensic.appraise" in _technical_acts
}

# R18-3: "进行专门审查并出具审查意见".
obligations contains {
	"action": "evidence.technical_review",
	"code": "issue_review_opinion",
	"article": "十八",
	"item": 3,
} if {
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
	data.quanze.lib.capacity.role == "judicial_police"
	some act in data.quanze.lib.scope.actions
	act in police_duties
}

grants contains {"action": act, "code": "police_duty", "article": "二十", "item": 0} if {
	some act in _police_acts
}

# 二十 "人民检察院直接立案侦查案件犯罪现场保护": only a directly filed case; absent means not.
denials contains {
	"action": "police.protect_scene",
	"code": "scene_protection_requires_direct_filing",
	"article": "二十",
	"item": 0,
} if {
	not data.quanze.lib.capacity.resource_props.directly_filed_investigation == true
	"police.protect_scene" in _police_acts
}

# ---------------------------------------------------------------- 三十一 instructions of the guiding procurator

# 三十一: "检察官授意、指使检察辅助人员实施违反检察职责行为，由检察官承担司法责任。检察辅助人员执行
# 明显违法的指令且未提出异议的，应当承担相应的司法责任。" Auxiliary staff directed by a procurator
# (context.decision_source "procurator", context.instructed_by naming them) carry out the
# instruction or object to one they consider clearly illegal. Not objecting to a flagged one is
# not forbidden, only liable (A26): the answer warns, and names both who answer.
_instructed_roles := {"procurator_assistant", "clerk", "technical_staff", "judicial_police"}

_instruction_acts contains act if {
	data.quanze.lib.capacity.role in _instructed_roles
	data.quanze.lib.capacity.ctx.decision_source == "procurator"
	some act in data.quanze.lib.scope.actions
	act in {"decision.execute", "decision.object"}
}

_instructor := object.get(data.quanze.lib.capacity.ctx, "instructed_by", "")

grants contains {
	"action": "decision.object",
	"code": "auxiliary_objects_to_instruction",
	"article": "三十一",
	"item": 0,
} if {
	"decision.object" in _instruction_acts
}

grants contains {
	"action": "decision.execute",
	"code": "auxiliary_executes_instruction",
	"article": "三十一",
	"item": 0,
} if {
	"decision.execute" in _instruction_acts
}

denials contains {"action": act, "code": "instruction_source_required", "article": "三十一", "item": 0} if {
	not data.quanze.lib.capacity.named(_instructor)
	some act in _instruction_acts
}

# The instruction comes from a procurator handling the case (the one guiding the subject).
denials contains {"action": act, "code": "instructor_not_handling_procurator", "article": "三十一", "item": 0} if {
	data.quanze.lib.capacity.named(_instructor)
	not _instructor in data.quanze.lib.capacity.handling_procurators
	some act in _instruction_acts
}

_flagged_unobjected if {
	data.quanze.lib.capacity.ctx.executor_flags_clearly_illegal == true
	not data.quanze.lib.capacity.ctx.objection_raised == true
}

obligations contains {"action": "decision.execute", "code": code, "article": "三十一", "item": 0} if {
	"decision.execute" in _instruction_acts
	_flagged_unobjected
	some code in ["warn_liability_clearly_illegal", "objection_available"]
}

# P12: "检察官授意、指使检察辅助人员实施违反检察职责行为，由检察官承担司法责任" — the procurator who
# gave an instruction the executor flags as clearly illegal answers for it, objected to or not.
accountable contains {
	"action": "decision.execute",
	"subject_id": _instructor,
	"capacity": "handling_procurator",
	"responsibility": "judicial",
	"article": "三十一",
} if {
	"decision.execute" in _instruction_acts
	data.quanze.lib.capacity.ctx.executor_flags_clearly_illegal == true
}

# P13: the executor answers too only when not objecting ("执行明显违法的指令且未提出异议的"); an
# executor who objected is not liable for the instruction it carried out.
_executes_after_objecting if {
	"decision.execute" in _instruction_acts
	data.quanze.lib.capacity.ctx.executor_flags_clearly_illegal == true
	data.quanze.lib.capacity.ctx.objection_raised == true
}

# ---------------------------------------------------------------- 三十一 responsibility

# An auxiliary answers for their own work, not for the procurator's decision (P10).
accountable contains {
	"action": act,
	"subject_id": input.subject.id,
	"capacity": data.quanze.lib.capacity.role,
	"responsibility": "judicial",
	"article": "三十一",
} if {
	some act in (((_assistant_acts | _clerk_acts) | _technical_acts) | _police_acts) | _instruction_acts
	not _exempt_executor(act)
}

_exempt_executor(act) if {
	act == "decision.execute"
	_executes_after_objecting
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
