# METADATA
# title: Grants of the chief's authority (四十六, 二十三(1)(2), 十四(10))
# description: |
#   A grant is a record {document, kind, grantor, procuratorate, scope[], case_scope?, task?,
#   valid_from, valid_until?, revoked_on?} (A8): a delegation of chief powers to a deputy
#   chief or full-time committee member (四十六), an authorisation of a department head to
#   review (二十三(1)(2)), or an entrustment of a procurator with a matter (十四(10)).
#   With the registry on (data.quanze.directory.delegation_registry, the default) the grants
#   that count are the directory's; a grant a request carries counts only as a copy of one
#   there, and one that matches none is a claim the directory contradicts. With it off, the
#   grants a request carries count after the same checks. Either way a grant counts only
#   while in force, in its procuratorate, for cases in its case scope, when its grantor is that
#   procuratorate's chief today (so a delegate's own grant is void: no sub-delegation) and its
#   grantee holds an office the kind may go to.
package quanze.lib.delegation

# References to other libraries are written in full (see lib/directory).

import rego.v1

# 四十六: the closed list of who may hold a delegation.
holder_roles := {"deputy_chief_procurator", "full_time_committee_member"}

# METADATA
# description: Registry on unless the directory turns it off explicitly.
default registry := true

registry := false if data.quanze.directory.delegation_registry == false

_claims := object.get(input.subject, "properties", {})

_ctx := object.get(input, "context", {})

_case := object.get(input.resource, "properties", {})

# ------------------------------------------------------------------ which grants count

# METADATA
# description: The grants `person` holds in the registry.
registered(person) := grants if {
	grants := object.get(object.get(data.quanze.directory, "grants", {}), person, [])
	is_array(grants)
}

# METADATA
# description: |
#   Whether grant `g` of `kind` lets `person` act for the chief over `act` in procuratorate
#   `pid` on the resource of this request.
counts(g, kind, person, act, pid) if {
	g.kind == kind
	g.procuratorate == pid
	_in_force(g)
	data.quanze.lib.directory.chief_of(pid) == g.grantor
	eligible(kind, person, pid)
	_covers(g, act)
	_in_case_scope(g)
}

_in_force(g) if {
	today := data.quanze.lib.directory.today
	g.valid_from <= today
	today <= object.get(g, "valid_until", "9999-12-31")
	today < object.get(g, "revoked_on", "9999-12-31")
}

# METADATA
# description: |
#   Whether `person` may hold a grant of `kind` in `pid`: a delegation deputy chiefs and
#   full-time members (四十六), an authorisation department heads (二十三), an entrustment
#   procurators (十四(10)).
eligible(kind, person, pid) if {
	kind == "delegation"
	data.quanze.lib.directory.is_leader(person, pid)
}

# 四十五: "业务部门负责人包括具有检察官身份的部门正职、副职" — a head without procurator status
# is not one for 二十三.
eligible(kind, person, pid) if {
	kind == "authorization"
	data.quanze.lib.directory.is_department_head(person, pid)
	data.quanze.lib.directory.is_procurator(person, pid)
}

eligible(kind, person, pid) if {
	kind == "entrustment"
	data.quanze.lib.directory.is_procurator(person, pid)
}

_covers(g, act) if act in g.scope

# "*": every power the chief may delegate (a delegation only).
_covers(g, _) if {
	g.kind == "delegation"
	"*" in g.scope
}

# A family such as decision.*: every action whose id starts with decision.
_covers(g, act) if {
	some family in g.scope
	endswith(family, ".*")
	prefix := trim_suffix(family, "*")
	startswith(act, prefix)
}

_in_case_scope(g) if {
	scope := object.get(g, "case_scope", {})
	_listed_or_open(scope, "case_ids", {input.resource.id})
	_listed_or_open(scope, "departments", {object.get(_case, "department", "")})
	_listed_or_open(scope, "case_categories", _categories)
}

_listed_or_open(scope, key, _) if not scope[key]

_listed_or_open(scope, key, values) if {
	some value in scope[key]
	value in values
}

_categories := {c | some c in object.get(_case, "crime_category", [])} | {object.get(_case, "domain", "")}

# The grants of `person` to consider: the registry's, or with it off those the request carries
# (the subject's own, or `carried` for another person the request names).
_grants(person, _) := registered(person) if registry

_grants(_, requested) := requested if not registry

# ------------------------------------------------------------------ the subject's grants

_subject_pid := data.quanze.lib.directory.home_id

# The subject's own grants as the request carries them, in the registry's shape.
carried contains g if {
	some d in object.get(_claims, "delegations", [])
	g := _as_grant(d, "delegation", _subject_pid)
}

carried contains g if {
	some a in object.get(_claims, "authorizations", [])
	is_object(a)
	g := _as_grant(a, "authorization", _subject_pid)
}

carried contains g if {
	e := _ctx.chief_entrustment
	e.to == input.subject.id
	g := object.union(_as_grant(e, "entrustment", _subject_pid), {"scope": ["task.entrusted"]})
}

# A grant as a request states it ({from, scope, case_scope (case ids), valid_from, valid_until,
# document, task}); an unreadable validity voids it (undefined here).
_as_grant(d, kind, pid) := object.union(
	{
		"kind": kind,
		"grantor": object.get(d, "from", ""),
		"procuratorate": pid,
		"scope": object.get(d, "scope", []),
		"valid_from": _day(object.get(d, "valid_from", "0001-01-01")),
		"valid_until": _day(object.get(d, "valid_until", "9999-12-31")),
		"document": object.get(d, "document", ""),
		"task": object.get(d, "task", ""),
	},
	_case_ids(d),
)

_case_ids(d) := {"case_scope": {"case_ids": d.case_scope}} if is_array(d.case_scope)

_case_ids(d) := {} if not is_array(d.case_scope)

# The calendar day of an RFC 3339 time or a date: offices and grants are judged by day.
_day(value) := substring(value, 0, 10) if {
	is_string(value)
	regex.match(`^\d{4}-\d{2}-\d{2}($|T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$)`, value)
}

# METADATA
# description: The subject's grants of `kind` that let it act for the chief over `act` here.
covering_grants(kind, act) := {g |
	some g in _grants(input.subject.id, carried)
	counts(g, kind, input.subject.id, act, _subject_pid)
}

# METADATA
# description: |
#   The delegations that let the subject, acting as a deputy chief or full-time member,
#   exercise the chief's power over `act` here (四十六).
covering(act) := {g |
	data.quanze.lib.capacity.role in holder_roles
	some g in covering_grants("delegation", act)
}

covers(act) if count(covering(act)) > 0

# METADATA
# description: |
#   P4, A9: the chief a delegate acts for, recorded as the delegate's reason detail ("delegated
#   by", with the document) — the delegate answers for the decision (二十八), the chief is named.
delegated_by(act) := {
	"detail_zh": concat("；", sort([sprintf("受 %s 委托%s", [g.grantor, _document_zh(g)]) | some g in grants])),
	"detail_en": concat("; ", sort([sprintf("delegated by %s%s", [g.grantor, _document_en(g)]) | some g in grants])),
} if {
	grants := covering(act)
}

_document_zh(g) := sprintf("（%s）", [g.document]) if g.document != ""

_document_zh(g) := "" if g.document == ""

_document_en(g) := sprintf(" (%s)", [g.document]) if g.document != ""

_document_en(g) := "" if g.document == ""

# METADATA
# description: 二十三(1)(2), A5: the department head holds the chief's authorisation `scope`.
authorized(scope) if count(covering_grants("authorization", scope)) > 0

# METADATA
# description: 十四(10), A10: the procurator holds the chief's entrustment of the matter `task`.
entrusted(task) if {
	some g in covering_grants("entrustment", "task.entrusted")
	g.task == task
}

# METADATA
# description: |
#   The chief's powers these policies let a 四十六 delegate exercise: the decisive matters
#   (四十七, routing), the chief's review and supervision (二十二), approvals (十七(6), 三十五) and
#   designating a team's lead (五). A test keeps it equal to the acts the rule packages give a
#   covering delegation.
delegable_acts := {
	"decision.prosecute", "decision.not_prosecute", "decision.protest",
	"decision.procuratorial_suggestion", "decision.other_decisive", "decision.procedural",
	"request.to_higher", "case.report_spp_approval", "committee.reconsider", "request.reply_to_lower",
	"opinion.review", "case.order_reexamination", "case.refer_to_committee",
	"case.request_report", "case.demand_explanation",
	"approval.senior_assistant_court", "accountability.approve_referral", "team.designate_lead",
}

# METADATA
# description: |
#   The subject's delegations whose scope covers `act` but which do not count here, each as
#   {document, why_zh, why_en}: where a delegation would decide the case, a deny says why it
#   does not (四十六).
void_delegations(act) := {v |
	act in delegable_acts
	some g in _grants(input.subject.id, carried)
	g.kind == "delegation"
	_covers(g, act)
	not counts(g, "delegation", input.subject.id, act, _subject_pid)
	some v in _why_void(g)
}

# Every reason a delegation does not count, in one definition (a function has one value).
_why_void(g) := (((grantor | grantee) | period) | case) | procuratorate if {
	grantor := {_void(g, "委托人不是本院检察长", "its grantor is not the chief of the procuratorate") |
		not data.quanze.lib.directory.chief_of(_subject_pid) == g.grantor
	}
	grantee := {_void(g, "受托人不是副检察长或检察委员会专职委员", "only a deputy chief or full-time committee member may hold one") |
		not eligible("delegation", input.subject.id, _subject_pid)
	}
	period := {_void(g, "不在有效期内或已撤销", "it is not in force today (expired, not yet valid or revoked)") | not _in_force(g)}
	case := {_void(g, "本案不在其案件范围内", "this case is outside its case scope") | not _in_case_scope(g)}
	procuratorate := {_void(g, "属于其他检察院", "it belongs to another procuratorate") | not g.procuratorate == _subject_pid}
}

_void(g, zh, en) := {"document": object.get(g, "document", ""), "why_zh": zh, "why_en": en}

# ------------------------------------------------------------------ another person's grants

# METADATA
# description: |
#   Whether `person` — named by the request as having approved or referred — holds a
#   delegation covering `act` in `pid`. With the registry off, `context.approver_delegation`
#   is the only grant the request can carry for them.
person_covers(person, act, pid) if {
	some g in _grants(person, _approver_carried(pid))
	counts(g, "delegation", person, act, pid)
}

_approver_carried(pid) := {g |
	d := _ctx.approver_delegation
	g := _as_grant(d, "delegation", pid)
}

# ------------------------------------------------------------------ claims the registry contradicts

# With the registry on, every grant a request carries must be a copy of one it holds: same
# grantor (and document, task and period, when given), and no scope it does not give.
# {"code", "detail_zh", "detail_en"}.
claim_problems contains _unregistered(code, person, g) if {
	registry
	some [code, person, g] in _claimed
	not _registered_copy(person, g)
}

_claimed contains [_unregistered_codes[g.kind], input.subject.id, g] if some g in carried

_unregistered_codes := {
	"delegation": "delegation_not_in_registry",
	"authorization": "authorization_not_in_registry",
	"entrustment": "entrustment_not_in_registry",
}

# An authorisation named only by its scope (review.escalated_cases) is a copy of any registered
# authorisation of the subject that gives that scope.
_claimed contains ["authorization_not_in_registry", input.subject.id, g] if {
	some a in object.get(_claims, "authorizations", [])
	is_string(a)
	g := _as_grant({"scope": [a]}, "authorization", _subject_pid)
}

_claimed contains ["delegation_not_in_registry", person, g] if {
	person := _ctx.approved_by
	some g in _approver_carried(data.quanze.lib.directory.home_id)
}

_registered_copy(person, g) if {
	some r in registered(person)
	r.kind == g.kind
	g.grantor in {"", r.grantor}
	g.document in {"", r.document}
	g.task in {"", object.get(r, "task", "")}
	g.valid_from in {"0001-01-01", r.valid_from}
	g.valid_until in {"9999-12-31", object.get(r, "valid_until", "9999-12-31")}
	every item in g.scope {
		item in r.scope
	}
}

_unregistered(code, person, g) := {
	"code": code,
	"detail_zh": sprintf("登记簿中 %s 的授予：%s", [person, _listing(person)]),
	"detail_en": sprintf("the registry's grants to %s: %s", [person, _listing(person)]),
}

_listing(person) := "none" if count(registered(person)) == 0

_listing(person) := concat("; ", [sprintf("%s %s by %s: %s", [r.document, r.kind, r.grantor, concat(", ", r.scope)]) |
	some r in registered(person)
]) if {
	count(registered(person)) > 0
}
