# METADATA
# title: Procurators' powers (十四, 十五, 十六)
# description: |
#   A procurator exercises the 十四 powers on a case they handle — sole, lead or
#   team member (A45) — under the law and the chief's standing entrustment (the
#   power list, A10); anything else the chief entrusts needs an entrustment naming
#   it (十四(10)). Chiefs, deputies, full-time members and department heads with
#   procurator status exercise them when they handle the case (§1.3). The lead
#   procurator also runs the team (十五). Provincial procuratorates make the power
#   lists and file them with the SPP (十六). Decisions are routed separately.
package quanze.rules.powers

import rego.v1

# 十四(1)–(9), by item. A13: procurators organise measures and may carry them out.
procurator_powers := {
	"case.summon_suspect": 1, "case.interrogate_suspect": 1,
	"case.question_witness": 2,
	"evidence.collect": 3, "evidence.obtain": 3, "evidence.review": 3, "investigation.conduct": 3,
	"measure.organize": 4, "measure.carry_out": 4,
	"case.review_materials": 5,
	"hearing.preside": 6, "consultation.preside": 6,
	"court.appear": 7, "court.read_charging_document": 7, "court.interrogate_defendant": 7,
	"court.present_evidence": 7, "court.debate": 7, "court.state_opinion": 7,
	"court_file.access": 8,
	"execution.supervise_death_penalty": 9,
}

# R14-11 (I): work a procurator guides assistants in is the procurator's own too.
guided_tasks := {"lawyer.receive", "document.draft", "evidence.verify"}


# 十五: the lead procurator's management of the team, by item.
lead_duties := {"team.direct": 1, "team.allocate_auxiliary_tasks": 2, "team.propose_assessment": 2}

_power_acts contains act if {
	data.quanze.lib.capacity.acts_as_procurator
	some act in data.quanze.lib.scope.actions
	_is_case_power(act)
}

_is_case_power(act) if procurator_powers[act]

_is_case_power(act) if act in guided_tasks

# ---------------------------------------------------------------- 十四(1)–(9)

grants contains {"action": act, "code": "procurator_power", "item": item} if {
	data.quanze.lib.capacity.handles_case
	some act in _power_acts
	item := procurator_powers[act]
}

grants contains {"action": act, "code": "procurator_guided_task"} if {
	data.quanze.lib.capacity.handles_case
	some act in _power_acts
	act in guided_tasks
}

# 十四 (I): the powers are exercised on the cases the procurator handles.
prohibitions contains {"action": act, "code": "procurator_not_handling_case"} if {
	not data.quanze.lib.capacity.handles_case
	some act in _power_acts
}

# A44: criminal-procedure powers (catalog criminal_only) are not inferred into civil,
# administrative or public-interest cases.
denials contains {"action": act, "code": "criminal_power_outside_criminal_domain", "item": item} if {
	_non_criminal_domain
	some act in _power_acts
	act in data.quanze.catalog.criminal_only
	item := procurator_powers[act]
}

_non_criminal_domain if {
	domain := object.get(data.quanze.lib.capacity.resource_props, "domain", "criminal")
	domain != "criminal"
}

# 十四(6): "公益诉讼磋商座谈会" — consultations belong to public-interest cases.
denials contains {"action": "consultation.preside", "code": "consultation_public_interest_only"} if {
	"consultation.preside" in _power_acts
	not data.quanze.lib.capacity.resource_props.domain == "public_interest"
}

# The procurator answers for their own acts in the case (二十九).
accountable contains {
	"action": act,
	"subject_id": input.subject.id,
	"capacity": "handling_procurator",
	"responsibility": "judicial",
	"article": "二十九",
} if {
	data.quanze.lib.capacity.handles_case
	some act in _power_acts
}

# ---------------------------------------------------------------- 十四(10)

_entrusted_acts contains "task.entrusted" if {
	data.quanze.lib.capacity.acts_as_procurator
	"task.entrusted" in data.quanze.lib.scope.actions
}

# A10, A17: an entrustment from the chief naming the procurator and the task.
grants contains {"action": "task.entrusted", "code": "chief_entrusted_task"} if {
	"task.entrusted" in _entrusted_acts
}

denials contains {"action": "task.entrusted", "code": "chief_entrustment_required"} if {
	"task.entrusted" in _entrusted_acts
	not _entrusted
}

# 十四(10) "其他办案事项", A17: an entrustment confers no decision or other power the procurator
# does not hold under 十四(1)–(9) — deciding is routed (六, 十一, 十三), whatever the text says.
denials contains object.union({"action": "task.entrusted"}, problem) if {
	"task.entrusted" in _entrusted_acts
	problem := data.quanze.lib.tasks.names_outside(
		object.get(data.quanze.lib.capacity.ctx, ["chief_entrustment", "task"], ""),
		entrustable,
		"十四",
		10,
	)
}

# What an entrustment may name: the procurator's own powers and the work they guide.
entrustable := object.union(procurator_powers, {act: 10 | some act in guided_tasks})

# The procurator answers for the matter entrusted to them (二十九).
accountable contains {
	"action": "task.entrusted",
	"subject_id": input.subject.id,
	"capacity": data.quanze.lib.capacity.role,
	"responsibility": "judicial",
	"article": "二十九",
} if {
	"task.entrusted" in _entrusted_acts
}

# The request names the matter (context.chief_entrustment.task); the chief of this procuratorate
# must have entrusted it to the subject — in the registry, or (with it off) as the request shows.
_entrusted if {
	entrustment := data.quanze.lib.capacity.ctx.chief_entrustment
	entrustment.to == input.subject.id
	data.quanze.lib.capacity.named(entrustment.task)
	data.quanze.lib.delegation.entrusted(entrustment.task)
}

# ---------------------------------------------------------------- 十五

_lead_acts contains act if {
	data.quanze.lib.capacity.acts_as_procurator
	some act in data.quanze.lib.scope.actions
	lead_duties[act]
}

grants contains {"action": act, "code": "lead_manages_team", "item": lead_duties[act]} if {
	"lead_procurator" in data.quanze.lib.capacity.case_roles
	some act in _lead_acts
}

prohibitions contains {"action": act, "code": "only_lead_manages_team", "item": lead_duties[act]} if {
	not "lead_procurator" in data.quanze.lib.capacity.case_roles
	some act in _lead_acts
}

accountable contains {
	"action": act,
	"subject_id": input.subject.id,
	"capacity": "lead_procurator",
	"responsibility": "judicial",
	"article": "二十九",
} if {
	"lead_procurator" in data.quanze.lib.capacity.case_roles
	some act in _lead_acts
}

# ---------------------------------------------------------------- 十六

grants contains {"action": act, "code": "provincial_power_list"} if {
	data.quanze.lib.capacity.role == "provincial_procuratorate"
	some act in data.quanze.lib.scope.actions
	act in {"power_list.formulate", "power_list.file"}
}

# 十六 "制定辖区内人民检察院检察官职权清单": the list is for the province itself or a procuratorate
# below it, as the directory's hierarchy shows.
denials contains {
	"action": act,
	"code": "power_list_outside_jurisdiction",
	"detail_zh": sprintf("名录：%s 不在 %s 辖区内", [target, data.quanze.lib.directory.home_id]),
	"detail_en": sprintf("per the directory %s is not within %s", [target, data.quanze.lib.directory.home_id]),
} if {
	data.quanze.lib.capacity.role == "provincial_procuratorate"
	target := data.quanze.lib.capacity.resource_procuratorate
	chain := data.quanze.lib.directory.chain(target)
	not data.quanze.lib.directory.home_id in chain
	some act in data.quanze.lib.scope.actions
	act in {"power_list.formulate", "power_list.file"}
}

# A32: filing (备案) is not approval; until the list is filed the duty is outstanding.
obligations contains {"action": "power_list.formulate", "code": "file_with_spp"} if {
	data.quanze.lib.capacity.role == "provincial_procuratorate"
	"power_list.formulate" in data.quanze.lib.scope.actions
	not data.quanze.lib.capacity.ctx.filed_with_spp == true
}

# R16-2, A31: the procurator power list is the province's to make.
prohibitions contains {"action": act, "code": "power_list_provincial_only"} if {
	data.quanze.lib.capacity.role == "procuratorate"
	some act in data.quanze.lib.scope.actions
	act in {"power_list.formulate", "power_list.file"}
}
