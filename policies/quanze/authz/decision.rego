# METADATA
# title: The decision document
# description: |
#   Entry points: `decision` answers the one action of a Check request;
#   `decisions` answers every action of the catalog (ListAllowedActions) with
#   the same function, so both always agree. Default deny: an action is
#   allowed only when some rule grants it and no denial, prohibition or
#   escalation applies. Every reason and obligation cites its article.
#   The Opinion applies from its issue on 2024-07-04 and supersedes 高检发〔2015〕10号 (四十八, A43, R48-1).
package quanze.authz

import rego.v1

# What the concern packages found, by kind: action-tagged entries. To add a package, add its
# sets here. Every part is a union of rules written by full path: `quanze serve` reads this object
# to evaluate, for each action, only the rules that can hold entries for it (docs/policy-guide.md,
# "Per-action evaluation"); the answer is the same as with every part.
parts := {
	"grants": union({
		data.quanze.rules.auxiliary.grants,
		data.quanze.rules.internal_checks.grants,
		data.quanze.rules.organisation.grants,
		data.quanze.rules.execution.grants,
		data.quanze.rules.routing.grants,
		data.quanze.rules.management.grants,
		data.quanze.rules.delegation.grants,
		data.quanze.rules.powers.grants,
	}),
	"denials": union({
		data.quanze.rules.common.denials,
		data.quanze.rules.auxiliary.denials,
		data.quanze.rules.internal_checks.denials,
		data.quanze.rules.organisation.denials,
		data.quanze.rules.execution.denials,
		data.quanze.rules.routing.denials,
		data.quanze.rules.management.denials,
		data.quanze.rules.delegation.denials,
		data.quanze.rules.powers.denials,
	}),
	"prohibitions": union({
		data.quanze.rules.internal_checks.prohibitions,
		data.quanze.rules.organisation.prohibitions,
		data.quanze.rules.execution.prohibitions,
		data.quanze.rules.routing.prohibitions,
		data.quanze.rules.management.prohibitions,
		data.quanze.rules.delegation.prohibitions,
		data.quanze.rules.powers.prohibitions,
	}),
	"obligations": union({
		data.quanze.rules.auxiliary.obligations,
		data.quanze.rules.internal_checks.obligations,
		data.quanze.rules.organisation.obligations,
		data.quanze.rules.execution.obligations,
		data.quanze.rules.routing.obligations,
		data.quanze.rules.management.obligations,
		data.quanze.rules.delegation.obligations,
		data.quanze.rules.powers.obligations,
	}),
	"accountable": union({
		data.quanze.rules.auxiliary.accountable,
		data.quanze.rules.internal_checks.accountable,
		data.quanze.rules.execution.accountable,
		data.quanze.rules.routing.accountable,
		data.quanze.rules.management.accountable,
		data.quanze.rules.delegation.accountable,
		data.quanze.rules.powers.accountable,
	}),
	"escalations": union({
		data.quanze.rules.routing.escalations,
		data.quanze.rules.internal_checks.escalations,
	}),
}

# METADATA
# title: Decision for the requested action
decision := answer(input.action.name, parts)

# METADATA
# title: The answer for one action from what the packages found
# description: |
#   `found` is `parts`, or (per-action evaluation) the parts restricted to the rules that can
#   hold entries for `act`. 十七(7), 十八(5), 十九(5), A17: a catch-all task that is an act of
#   the catalog is decided as that act, under that act's own conditions; the answer says so.
#   Any other action answers for itself.
answer(act, found) := _decide(act, found) if not _decided_as(act)

# Built field by field with the reasons bound first: regorus merged a union computed inside
# object.union's argument wrongly (it kept the original reasons).
answer(act, found) := {
	"decision": d.decision,
	"reasons": reasons,
	"obligations": d.obligations,
	"escalate_to": d.escalate_to,
	"accountable": d.accountable,
} if {
	task := _decided_as(act)
	d := _decide(task, found)
	position := data.quanze.lib.scope.catch_alls[act][input.subject.properties.role]
	governing := data.quanze.catalog.actions[act].articles[position]
	marker := _reason({
		"code": "catch_all_decided_as_act",
		"article": governing.article,
		"item": governing.item,
		"detail_zh": sprintf("按「%s」（%s）决定", [data.quanze.catalog.actions[task].zh, task]),
		"detail_en": sprintf("decided as %s (%s)", [task, data.quanze.catalog.actions[task].en]),
	})
	reasons := d.reasons | {marker}
}

_decided_as(act) := data.quanze.lib.scope.catalogued_task if data.quanze.lib.scope.redirects(act)


# METADATA
# title: Decisions for every action in scope
# description: |
#   Only actions some rule mentions need the full decision; every other action's answer is,
#   by the definition of _decide, the plain "not granted" deny. Splitting them keeps a
#   whole-catalog evaluation from scanning every rule's entries once per action.
decisions := object.union(
	{act: answer(act, parts) | some act in _touched | _redirecting},
	{act: _not_granted_deny(act) |
		some act in data.quanze.lib.scope.actions
		not act in _touched
		not act in _redirecting
	},
)

_touched contains e.action if some e in parts.grants

_touched contains e.action if some e in parts.denials

_touched contains e.action if some e in parts.prohibitions

_touched contains e.action if some e in parts.escalations

# The catch-alls in scope answered as the catalogued act their task names.
_redirecting := {act |
	some act, _ in data.quanze.lib.scope.catch_alls
	act in data.quanze.lib.scope.actions
	data.quanze.lib.scope.redirects(act)
}

# The answer for an action no rule mentions: exactly what _decide gives such an action.
_not_granted_deny(act) := {
	"decision": false,
	"reasons": _ungranted_reasons(act, set()),
	"obligations": set(),
	"escalate_to": "",
	"accountable": set(),
}

_granted(act, found) if {
	some g in found.grants
	g.action == act
}

_denied(act, found) if {
	some d in found.denials
	d.action == act
}

_prohibited(act, found) if {
	some p in found.prohibitions
	p.action == act
}

_escalated(act, found) if {
	some e in found.escalations
	e.action == act
}

_allowed(act, found) if {
	_granted(act, found)
	not _denied(act, found)
	not _prohibited(act, found)
	not _escalated(act, found)
}

_decide(act, found) := {
	"decision": true,
	"reasons": {_reason(g) | some g in found.grants; g.action == act},
	"obligations": {_reason(o) | some o in found.obligations; o.action == act},
	"escalate_to": "",
	"accountable": {_without_action(a) | some a in found.accountable; a.action == act},
} if {
	_allowed(act, found)
}

_decide(act, found) := {
	"decision": false,
	"reasons": _deny_reasons(act, found),
	"obligations": set(),
	"escalate_to": _escalate_to(act, found),
	"accountable": set(),
} if {
	not _allowed(act, found)
}

_deny_reasons(act, found) := ((stated | escalation) | not_granted) | _void_delegations(act) if {
	stated := {_reason(d) | some d in found.denials | found.prohibitions; d.action == act}
	escalation := _escalation_reasons(act, found)
	not_granted := _not_granted(act, found, stated)
}

# 四十六: where a delegation the subject holds or carries would have decided the act, the deny
# says why it does not count.
_void_delegations(act) := {_reason({
	"code": "delegation_does_not_count",
	"article": "四十六",
	"item": 0,
	"detail_zh": sprintf("%s：%s", [v.document, v.why_zh]),
	"detail_en": sprintf("%s: %s", [v.document, v.why_en]),
}) |
	some v in data.quanze.lib.delegation.void_delegations(act)
}

# A deny lists every ground: the failed conditions and prohibitions above (the acting role's
# own limits), and — for an act not granted to the subject at all — the article that grants it
# to others, unless a stated reason cites it already; when nothing else is stated, also the
# article that sets out the acting role's own duties. An escalation says on its own where the
# act belongs, and a failed condition of the subject's own grant needs no other article.
_not_granted(act, found, _) := set() if _granted(act, found)

_not_granted(act, found, _) := set() if _escalated(act, found)

_not_granted(act, found, _) := set() if _conditional(act, found)

_not_granted(act, found, stated) := _ungranted_reasons(act, stated) if {
	not _granted(act, found)
	not _escalated(act, found)
	not _conditional(act, found)
}

# A prohibition marked "condition" is the failed condition of a grant the subject's own role
# would have (the committee without the chief's referral, an objection that names no source):
# the act is not someone else's, so no other article is added.
_conditional(act, found) if {
	some p in found.prohibitions
	p.action == act
	p.condition == true
}

_ungranted_reasons(act, stated) := {r |
	some r in {governing} | _role_duties_beside(governing, stated)
	not r.article in {s.article | some s in stated}
} if {
	governing := _governing_reason(act)
}

_role_duties_beside(governing, stated) := {r |
	count(stated) == 0
	some r in _role_duties_reasons
	r.article != governing.article
}

_governing_reason(act) := {
	"code": "action_not_granted",
	"article": governing.article,
	"item": governing.item,
	"message_zh": _not_granted_message.zh,
	"message_en": _not_granted_message.en,
} if {
	governing := data.quanze.catalog.actions[act].articles[0]
}

_not_granted_message := object.get(
	data.quanze.messages,
	"action_not_granted",
	{"zh": "action_not_granted", "en": "action_not_granted"},
)

# The article setting out the duties of the role the subject acts in (catalog roles' `duties`),
# which does not include the act; the role as the request names it (held or not). A set with a
# default: the RVM makes a comprehension over an undefined rule undefined as a whole.
default _role_duties_reasons := set()

_role_duties_reasons := {_reason({
	"code": "outside_role_duties",
	"article": duties.article,
	"item": duties.item,
	"detail_zh": sprintf("%s（%s）", [role_entry.zh, role]),
	"detail_en": sprintf("%s (%s)", [role_entry.en, role]),
})} if {
	role := input.subject.properties.role
	role_entry := data.quanze.catalog.roles[role]
	duties := role_entry.duties
}

_escalation_reasons(act, found) := {_reason(e) | some e in found.escalations; e.action == act}

_escalate_to(act, found) := "committee" if {
	some e in found.escalations
	e.action == act
	e.to == "committee"
}

_escalate_to(act, found) := "chief" if {
	not _escalate_to_committee(act, found)
	some e in found.escalations
	e.action == act
	e.to == "chief"
}

_escalate_to(act, found) := "" if not _escalated(act, found)

_escalate_to_committee(act, found) if {
	some e in found.escalations
	e.action == act
	e.to == "committee"
}

# Messages live in data keyed by code; a code without a message still keeps its reason.
_reason(r) := {
	"code": r.code,
	"article": object.get(r, "article", object.get(data.quanze.messages, [r.code, "article"], "")),
	"item": object.get(r, "item", object.get(data.quanze.messages, [r.code, "item"], 0)),
	"message_zh": _message(r, "zh", "detail_zh", "；"),
	"message_en": _message(r, "en", "detail_en", "; "),
}

# An entry may add a detail (e.g. which power list decided) to its fixed message.
_message(r, lang, key, separator) := text if {
	base := object.get(data.quanze.messages, [r.code, lang], r.code)
	text := concat(separator, [base, r[key]])
}

_message(r, lang, key, _) := object.get(data.quanze.messages, [r.code, lang], r.code) if not r[key]

_without_action(a) := {k: v | some k, v in a; k != "action"}
