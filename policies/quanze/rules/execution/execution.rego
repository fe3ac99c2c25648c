# METADATA
# title: Executing the chief's and the committee's decisions (十二, 二十八)
# description: |
#   A handling procurator executes the decisions of the committee (十二 "应当及时执行") and
#   of the chief (二十八 "检察官应当执行"); `context.decision_source` says whose it is (a
#   四十六 delegate's decision counts as the chief's, A9).
#   Committee decisions: not executing in time, or new circumstances before execution is
#   complete, call for an immediate written report to the chief (R12-2); the Opinion gives
#   no objection against them, so the written report is the route (A25, R12-3), after which
#   the chief may bring a 十一(5) reconsideration.
#   Chief decisions: the procurator may object (二十八) and hold off while the objection is
#   pending (A27); once the chief keeps the decision or orders immediate execution, the
#   procurator executes and the chief answers for it (P6). Executing a decision the
#   procurator flags as clearly illegal is not forbidden, only liable (A26): it is allowed
#   with a warning, and the objection (or, for the committee, the report) is offered.
#   Responsibility (§5): P3/P6 the chief answers for a chief decision; P7 a procurator who
#   executes a clearly illegal one without objecting answers too; P8 for a committee
#   decision the members answer for their votes (二十七) and the executing procurator for
#   the execution (十二).
package quanze.rules.execution

import rego.v1

execution_acts := {"decision.execute", "decision.defer_execution", "decision.object", "report.execution_obstacle"}

# Acts about one decision, which must say whose decision it is, with the article each rests on.
sourced_acts := {"decision.execute": "十二", "decision.defer_execution": "十二", "decision.object": "二十八"}

_ctx := data.quanze.lib.capacity.ctx

_source := object.get(_ctx, "decision_source", "")

_handling if {
	data.quanze.lib.capacity.acts_as_procurator
	data.quanze.lib.capacity.handles_case
}

_acts contains act if {
	_handling
	some act in data.quanze.lib.scope.actions
	act in execution_acts
}

# Without it no rule here can grant the act, and this says why (a prohibition, so the
# missing grant adds nothing).
prohibitions contains {
	"action": act,
	"code": "decision_source_required",
	"condition": true,
	"article": sourced_acts[act],
	"item": 0,
} if {
	not _source in {"chief", "committee"}
	some act in _acts
	sourced_acts[act]
}

# 二十八: the procurator has objected.
_objected if _ctx.objection_raised == true

_flagged_illegal if _ctx.executor_flags_clearly_illegal == true

# ------------------------------------------------------------------ decision.execute

_executing if "decision.execute" in _acts

grants contains {"action": "decision.execute", "code": "execute_committee_decision", "article": "十二", "item": 0} if {
	_executing
	_source == "committee"
}

grants contains {"action": "decision.execute", "code": "execute_chief_decision", "article": "二十八", "item": 0} if {
	_executing
	_source == "chief"
}

# 十二 "及时执行".
obligations contains {"action": "decision.execute", "code": "execute_promptly", "article": "十二", "item": 0} if {
	_executing
	_source == "committee"
}

# A26: clearly illegal in the executor's view and not objected to: liable (二十八, 三十一).
obligations contains {
	"action": "decision.execute",
	"code": "warn_liability_clearly_illegal",
	"article": "二十八",
	"item": 0,
} if {
	_executing
	_source in {"chief", "committee"}
	_flagged_illegal
	not _objected
}

# A26: the way out the Opinion gives: an objection to the chief (二十八) …
obligations contains {"action": "decision.execute", "code": "objection_available", "article": "二十八", "item": 0} if {
	_executing
	_source == "chief"
	_flagged_illegal
	not _objected
}

# … or, for a committee decision, the immediate written report to the chief (十二, A25).
obligations contains {"action": "decision.execute", "code": "written_report_available", "article": "十二", "item": 0} if {
	_executing
	_source == "committee"
	_flagged_illegal
}

# P3, P6, P7: "检察长对职权范围内就办案事项作出的决定负责"; after an objection the chief kept
# or ordered executed at once, "执行后果由检察长负责，检察官不承担司法责任".
accountable contains {
	"action": "decision.execute",
	"subject_id": "",
	"capacity": "chief_procurator",
	"responsibility": "judicial",
	"article": "二十八",
} if {
	_executing
	_source == "chief"
}

# P7: "检察官执行检察长明显违法的决定且未提出异议的，应当承担相应的司法责任".
accountable contains {
	"action": "decision.execute",
	"subject_id": input.subject.id,
	"capacity": "handling_procurator",
	"responsibility": "judicial",
	"article": "二十八",
} if {
	_executing
	_source == "chief"
	_flagged_illegal
	not _objected
}

# P8, P5: the members for their own opinions and votes (二十七) …
accountable contains {
	"action": "decision.execute",
	"subject_id": "",
	"capacity": "committee_member",
	"responsibility": "judicial",
	"article": "二十七",
} if {
	_executing
	_source == "committee"
}

# … and the executing procurator for the execution (十二, I).
accountable contains {
	"action": "decision.execute",
	"subject_id": input.subject.id,
	"capacity": "handling_procurator",
	"responsibility": "judicial",
	"article": "十二",
} if {
	_executing
	_source == "committee"
}

# ------------------------------------------------------------------ decision.defer_execution

_deferring if "decision.defer_execution" in _acts

# R12-2: "因特殊原因无法及时执行…或者在执行完毕前出现新情况的，应当立即书面报告检察长".
grants contains {
	"action": "decision.defer_execution",
	"code": "defer_committee_decision_with_report",
	"article": "十二",
	"item": 0,
} if {
	_deferring
	_source == "committee"
}

_report := object.get(_ctx, "report", {})

_reported_in_writing_at_once if {
	_to_the_chief
	_report.form == "written"
	_report.immediate == true
}

# To the chief: "chief", or the chief of the case's procuratorate by id (the directory's).
_to_the_chief if _report.to == "chief"

_to_the_chief if {
	chief := data.quanze.lib.directory.chief_of(data.quanze.lib.capacity.resource_procuratorate)
	_report.to == chief
}

denials contains {
	"action": "decision.defer_execution",
	"code": "written_report_to_chief_required",
	"article": "十二",
	"item": 0,
} if {
	_deferring
	_source == "committee"
	not _reported_in_writing_at_once
}

obligations contains {
	"action": "decision.defer_execution",
	"code": "report_execution_obstacle",
	"article": "十二",
	"item": 0,
} if {
	_deferring
	_source == "committee"
}

# A27: a chief decision waits only while the procurator's objection is pending.
grants contains {
	"action": "decision.defer_execution",
	"code": "defer_pending_objection",
	"article": "二十八",
	"item": 0,
} if {
	_deferring
	_source == "chief"
}

denials contains {
	"action": "decision.defer_execution",
	"code": "no_objection_pending",
	"article": "二十八",
	"item": 0,
} if {
	_deferring
	_source == "chief"
	not _objected
}

# "检察长不改变该决定，或者要求立即执行的，检察官应当执行".
denials contains {
	"action": "decision.defer_execution",
	"code": "chief_maintained_decision",
	"article": "二十八",
	"item": 0,
} if {
	_deferring
	_source == "chief"
	_ctx.chief_maintained == true
}

denials contains {
	"action": "decision.defer_execution",
	"code": "chief_ordered_immediate_execution",
	"article": "二十八",
	"item": 0,
} if {
	_deferring
	_source == "chief"
	_ctx.chief_ordered_immediate == true
}

obligations contains {"action": act, "code": "execute_if_chief_maintains", "article": "二十八", "item": 0} if {
	_source == "chief"
	some act in _acts
	act in {"decision.defer_execution", "decision.object"}
}

# ------------------------------------------------------------------ decision.object

_objecting if "decision.object" in _acts

# 二十八: "认为决定有错误的，可以提出异议".
grants contains {"action": "decision.object", "code": "object_to_chief_decision", "article": "二十八", "item": 0} if {
	_objecting
	_source == "chief"
}

# A25, R12-3: 十二 has no objection clause; its written report to the chief is the route.
prohibitions contains {"action": "decision.object", "code": code, "article": "十二", "item": 0} if {
	_objecting
	_source == "committee"
	some code in ["no_objection_to_committee_decision", "report_to_chief_in_writing_instead"]
}

# ------------------------------------------------------------------ report.execution_obstacle

# 十二: the report itself, immediate and in writing, to the chief.
grants contains {
	"action": "report.execution_obstacle",
	"code": "report_obstacle_to_chief",
	"article": "十二",
	"item": 0,
} if {
	"report.execution_obstacle" in _acts
}

# 十二 "应当立即书面报告检察长": a report the request describes otherwise (oral, later, to someone
# else) is not that report.
denials contains {
	"action": "report.execution_obstacle",
	"code": "written_report_to_chief_required",
	"article": "十二",
	"item": 0,
} if {
	"report.execution_obstacle" in _acts
	count(_report) > 0
	not _reported_in_writing_at_once
}

obligations contains {
	"action": "report.execution_obstacle",
	"code": "report_in_writing_immediately",
	"article": "十二",
	"item": 0,
} if {
	"report.execution_obstacle" in _acts
}
