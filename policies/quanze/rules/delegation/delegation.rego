# METADATA
# title: Granting delegations, entrustments, authorisations, approvals and assignments
# description: |
#   The acts that confer authority on someone else; holding it is checked by
#   lib/delegation (四十六) and by the packages of the acts conferred.
#   四十六: the chief may delegate chief powers to a deputy chief or a full-time
#   committee member, and to no one else (a delegation to anyone else is void);
#   a delegate cannot delegate onward (A8). 十四(10), A10: the chief entrusts a
#   procurator with a named matter. 二十三(1)(2), A5: the chief authorises a
#   department head to review. 十七(6), A16: the chief, or a 四十六 delegate,
#   approves a senior assistant's court participation; a department head's approval
#   is invalid. 十八, A18: a procurator handling the case assigns technical staff.
#   The record conferred (resource type "delegation") names `grantee`,
#   `grantee_role`, `scope`, `task`, `case_scope`, `valid_from`, `valid_until`.
package quanze.rules.delegation

import rego.v1

# Every entry carries its article (and item): the messages are merged separately.

_record := data.quanze.lib.capacity.resource_props

# The grantee's offices in the procuratorate that grants, as the directory shows them; the
# record's `grantee_role` is the request's description and must agree.
_grantee := object.get(_record, "grantee", "")

_pid := data.quanze.lib.directory.home_id

_grantee_offices contains role if some role in data.quanze.lib.directory.offices(_grantee, _pid)

_grantee_offices contains "department_head" if data.quanze.lib.directory.is_department_head(_grantee, _pid)

_grantee_offices contains "committee_member" if data.quanze.lib.directory.is_committee_member(_grantee, _pid)

denials contains {
	"action": act,
	"code": "grantee_role_contradicts_directory",
	"article": "四十五",
	"item": 0,
	"detail_zh": sprintf("名录：%s 在 %s 担任 %s", [_grantee, _pid, _offices_listed]),
	"detail_en": sprintf("per the directory %s holds %s in %s", [_grantee, _offices_listed, _pid]),
} if {
	claimed := object.get(_record, "grantee_role", "")
	claimed != ""
	not claimed in _grantee_offices
	some act in _chief_acts
}

_offices_listed := concat(", ", sort(_grantee_offices)) if count(_grantee_offices) > 0

_offices_listed := "no office" if count(_grantee_offices) == 0


default _scope_list := []

_scope_list := s if {
	s := object.get(_record, "scope", [])
	is_array(s)
}

# ---------------------------------------------------------------- conferrals by the chief

# The chief's own acts of conferring authority, and where the text grants them.
chief_conferrals := {
	"delegation.grant": {"code": "chief_delegates_power", "article": "四十六", "item": 0},
	"entrustment.grant": {"code": "chief_entrusts_procurator", "article": "十四", "item": 10},
	"authorization.grant": {"code": "chief_authorizes_review", "article": "二十三", "item": 0},
}

_chief_acts contains act if {
	data.quanze.lib.capacity.role == "chief_procurator"
	some act in data.quanze.lib.scope.actions
	chief_conferrals[act]
}

grants contains entry if {
	some act in _chief_acts
	act != "authorization.grant"
	g := chief_conferrals[act]
	entry := object.union({"action": act}, g)
}

# ---------------------------------------------------------------- 四十六 delegation

# R46-2: "检察长可以委托副检察长、检察委员会专职委员行使" is a closed list; a delegation to
# anyone else (or to no stated role) is void.
prohibitions contains {
	"action": act,
	"code": "delegation_void_ineligible_delegate",
	"condition": true,
	"article": "四十六",
	"item": 0,
} if {
	count(_grantee_offices & data.quanze.lib.delegation.holder_roles) == 0
	some act in _chief_acts
	act == "delegation.grant"
}

# A8: a delegation states the powers it covers.
denials contains {"action": act, "code": "delegation_scope_required", "article": "四十六", "item": 0} if {
	count(_scope_list) == 0
	some act in _chief_acts
	act == "delegation.grant"
}

# R46-4, A8: conferring authority is the chief's own (no sub-delegation, 十四(10), 二十三): a
# delegation cannot pass on delegating, entrusting or authorising.
denials contains {"action": act, "code": "conferral_not_delegable", "article": "四十六", "item": 0} if {
	some item in _scope_list
	item in object.keys(chief_conferrals)
	some act in _chief_acts
	act == "delegation.grant"
}

# A8: a delegation whose validity ends before it begins is never in force.
denials contains {"action": act, "code": "validity_ends_before_it_begins", "article": "四十六", "item": 0} if {
	from := object.get(_record, "valid_from", "")
	until := object.get(_record, "valid_until", "")
	is_string(from)
	is_string(until)
	from != ""
	until != ""
	substring(until, 0, 10) < substring(from, 0, 10)
	some act in _chief_acts
	act == "delegation.grant"
}

# A8: the record {from, to, scope[], case_scope, valid_from/until} is kept.
obligations contains {"action": act, "code": "record_delegation_scope_and_validity", "article": "四十六", "item": 0} if {
	some act in _chief_acts
	act == "delegation.grant"
}

# 二十五: conferring authority is the chief's management of the procuratorate, not a decision on
# a case; the chief answers for it as supervisor ("不当履行监督管理权"), for every conferral alike.
accountable contains {
	"action": act,
	"subject_id": input.subject.id,
	"capacity": "chief_procurator",
	"responsibility": "supervisory",
	"article": "二十五",
} if {
	some act in _chief_acts
}

# R46-4, A8: only "检察长可以委托" — a delegate, even holding a delegation, cannot delegate onward.
prohibitions contains {"action": act, "code": "no_sub_delegation", "article": "四十六", "item": 0} if {
	data.quanze.lib.capacity.role in data.quanze.lib.delegation.holder_roles
	some act in data.quanze.lib.scope.actions
	act == "delegation.grant"
}

# A8 (J): entrusting and authorising confer standing authority as a delegation does; the
# text gives them to the chief ("检察长的委托", "经检察长授权"), so a delegation that claims to
# cover them does not pass them on.
prohibitions contains {"action": act, "code": "conferral_reserved_to_chief", "article": "四十六", "item": 0} if {
	data.quanze.lib.capacity.role in data.quanze.lib.delegation.holder_roles
	some act in data.quanze.lib.scope.actions
	act in {"entrustment.grant", "authorization.grant"}
	data.quanze.lib.delegation.covers(act)
}

# ---------------------------------------------------------------- 十四(10) entrustment

# 十四: "检察官依照…检察长的委托": the entrustee is a procurator in the quota (§1.3, 四十五).
denials contains {"action": act, "code": "entrustee_not_procurator", "article": "十四", "item": 10} if {
	not "procurator" in _grantee_offices
	some act in _chief_acts
	act == "entrustment.grant"
}

# A10, A17: the entrustment names the matter entrusted.
denials contains {"action": act, "code": "entrusted_task_not_named", "article": "十四", "item": 10} if {
	not data.quanze.lib.capacity.named(_record.task)
	some act in _chief_acts
	act == "entrustment.grant"
}

# 十四(10), A17: nor may the entrustment name a decision or a power the procurator lacks.
denials contains object.union({"action": act}, problem) if {
	some act in _chief_acts
	act == "entrustment.grant"
	problem := data.quanze.lib.tasks.names_outside(
		object.get(_record, "task", ""),
		data.quanze.rules.powers.entrustable,
		"十四",
		10,
	)
}

obligations contains {"action": act, "code": "record_entrustment", "article": "十四", "item": 10} if {
	some act in _chief_acts
	act == "entrustment.grant"
}

# ---------------------------------------------------------------- 二十三(1)(2) authorisation

# The authorisations a department head may hold, by the item that needs them.
authorization_items := {"review.escalated_cases": 1, "review.legal_documents": 2}

_authorizing contains act if {
	some act in _chief_acts
	act == "authorization.grant"
}

# The grant cites each item authorised; with none, the plain grant stands (and a denial says why).
grants contains {"action": act, "code": "chief_authorizes_review", "article": "二十三", "item": item} if {
	some act in _authorizing
	some s in _scope_list
	item := authorization_items[s]
}

# A boolean with a default, not a comprehension: in a comprehension the RVM keeps a failed
# lookup (`item := authorization_items[s]`) as an undefined element instead of dropping it.
default _authorizes_an_item := false

_authorizes_an_item if {
	some s in _scope_list
	authorization_items[s]
}

grants contains entry if {
	_authorizes_an_item == false
	some act in _authorizing
	g := chief_conferrals[act]
	entry := object.union({"action": act}, g)
}

denials contains {"action": act, "code": "authorization_grantee_not_department_head", "article": "二十三", "item": 0} if {
	not data.quanze.lib.delegation.eligible("authorization", _grantee, _pid)
	some act in _authorizing
}

_unrecognised_scope := {s | some s in _scope_list; not authorization_items[s]}

denials contains {"action": act, "code": "authorization_scope_not_recognised", "article": "二十三", "item": 0} if {
	count(_scope_list) == 0
	some act in _authorizing
}

denials contains {"action": act, "code": "authorization_scope_not_recognised", "article": "二十三", "item": 0} if {
	count(_unrecognised_scope) > 0
	some act in _authorizing
}

# A5: the authorisation is the standing source of the review power; it is recorded.
obligations contains {"action": act, "code": "record_authorization", "article": "二十三", "item": 0} if {
	some act in _authorizing
}

# 二十三(2): "审核范围可以由各级人民检察院结合实际依法确定".
obligations contains {"action": act, "code": "fix_document_review_scope", "article": "二十三", "item": 2} if {
	"review.legal_documents" in _scope_list
	some act in _authorizing
}

# ---------------------------------------------------------------- 十七(6) approval

_approver_roles := {"chief_procurator"} | data.quanze.lib.delegation.holder_roles

_approvals contains act if {
	data.quanze.lib.capacity.role in _approver_roles
	some act in data.quanze.lib.scope.actions
	act == "approval.senior_assistant_court"
}

grants contains {"action": act, "code": "chief_approves_senior_assistant_court", "article": "十七", "item": 6} if {
	data.quanze.lib.capacity.role == "chief_procurator"
	some act in _approvals
}

# 四十六, A16: the approval is delegable.
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

# A16: "经检察长批准" — a department head's approval is invalid.
prohibitions contains {"action": act, "code": "dept_head_approval_invalid", "article": "十七", "item": 6} if {
	data.quanze.lib.capacity.role == "department_head"
	some act in data.quanze.lib.scope.actions
	act == "approval.senior_assistant_court"
}

# A16: one approval record per case or hearing, naming the assistant.
denials contains {"action": act, "code": "approval_must_name_assistant", "article": "十七", "item": 6} if {
	not data.quanze.lib.capacity.named(data.quanze.lib.capacity.ctx.approved_assistant)
	some act in _approvals
}

# 十七(6) "高阶段的检察官助理": the assistant approved is one the directory shows at the senior stage.
denials contains {
	"action": act,
	"code": "approved_assistant_not_senior",
	"article": "十七",
	"item": 6,
	"detail_zh": sprintf("名录：%s 不是 %s 的高阶段检察官助理", [assistant, _pid]),
	"detail_en": sprintf("per the directory %s is not a senior-stage assistant of %s", [assistant, _pid]),
} if {
	assistant := data.quanze.lib.capacity.ctx.approved_assistant
	data.quanze.lib.capacity.named(assistant)
	not data.quanze.lib.directory.office(assistant, "procurator_assistant", _pid).senior_stage == true
	some act in _approvals
}

obligations contains {"action": act, "code": "record_approval_naming_assistant", "article": "十七", "item": 6} if {
	some act in _approvals
}

# P3, P4 (二十八, A9): the approver answers as the chief; a delegate's chief is recorded.
accountable contains {
	"action": act,
	"subject_id": input.subject.id,
	"capacity": "chief_procurator",
	"responsibility": "judicial",
	"article": "二十八",
} if {
	data.quanze.lib.capacity.role == "chief_procurator"
	some act in _approvals
}

accountable contains {
	"action": act,
	"subject_id": input.subject.id,
	"capacity": data.quanze.lib.capacity.role,
	"responsibility": "judicial",
	"article": "二十八",
} if {
	some act in _approvals
	data.quanze.lib.delegation.covers(act)
}

# ---------------------------------------------------------------- 十八 technical assignment

# 十八 "受检察官的指派、委托", A18: any procurator handling the case, the chief included.
_assignments contains act if {
	data.quanze.lib.capacity.acts_as_procurator
	some act in data.quanze.lib.scope.actions
	act == "assignment.technical"
}

grants contains {"action": act, "code": "handling_procurator_assigns_technical_staff", "article": "十八", "item": 0} if {
	data.quanze.lib.capacity.handles_case
	some act in _assignments
}

prohibitions contains {
	"action": act,
	"code": "assigner_not_handling_procurator",
	"condition": true,
	"article": "十八",
	"item": 0,
} if {
	not data.quanze.lib.capacity.handles_case
	some act in _assignments
}

# 十八: the two forms an assignment may take, when the request says which.
denials contains {"action": act, "code": "assignment_type_not_recognised", "article": "十八", "item": 0} if {
	assignment_type := object.get(data.quanze.lib.capacity.ctx, "assignment_type", null)
	assignment_type != null
	not assignment_type in {"指派", "委托"}
	some act in _assignments
}

obligations contains {"action": act, "code": "record_technical_assignment", "article": "十八", "item": 0} if {
	data.quanze.lib.capacity.handles_case
	some act in _assignments
}
