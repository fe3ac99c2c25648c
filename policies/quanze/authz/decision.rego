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

import data.quanze.catalog
import data.quanze.lib.scope
import data.quanze.messages
import data.quanze.rules.auxiliary
import data.quanze.rules.common
import data.quanze.rules.delegation
import data.quanze.rules.execution
import data.quanze.rules.internal_checks
import data.quanze.rules.management
import data.quanze.rules.organisation
import data.quanze.rules.powers
import data.quanze.rules.routing

# Each concern package contributes action-tagged entries. To add a package: import it above
# and add one line to each set it defines (every package here defines the sets it is listed in).
_grants := union({
	auxiliary.grants,
	internal_checks.grants,
	organisation.grants,
	execution.grants,
	routing.grants,
	management.grants,
	delegation.grants,
	powers.grants,
})

_denials := union({
	common.denials,
	auxiliary.denials,
	internal_checks.denials,
	organisation.denials,
	execution.denials,
	routing.denials,
	management.denials,
	delegation.denials,
	powers.denials,
})

_prohibitions := union({
	internal_checks.prohibitions,
	organisation.prohibitions,
	execution.prohibitions,
	routing.prohibitions,
	management.prohibitions,
	delegation.prohibitions,
	powers.prohibitions,
})

_obligations := union({
	auxiliary.obligations,
	internal_checks.obligations,
	organisation.obligations,
	execution.obligations,
	routing.obligations,
	management.obligations,
	delegation.obligations,
	powers.obligations,
})

_accountable := union({
	auxiliary.accountable,
	internal_checks.accountable,
	execution.accountable,
	routing.accountable,
	management.accountable,
	delegation.accountable,
	powers.accountable,
})

# Reserved matters (十一, 十三, 二十四, 六): {"action", "to", "code"}.
_escalations := union({routing.escalations, internal_checks.escalations})

# METADATA
# title: Decision for the requested action
decision := _decide(input.action.name)

# METADATA
# title: Decisions for every action in scope
# description: |
#   Only actions some rule mentions need the full decision; every other action's answer is,
#   by the definition of _decide, the plain "not granted" deny. Splitting them keeps a
#   whole-catalog evaluation from scanning every rule's entries once per action.
decisions := object.union(
	{act: _decide(act) | some act in _touched},
	{act: _not_granted_deny(ref, _not_granted_message) |
		some act in scope.actions
		not act in _touched
		ref := catalog.actions[act].articles[0]
	},
)

_touched contains e.action if some e in _grants

_touched contains e.action if some e in _denials

_touched contains e.action if some e in _prohibitions

_touched contains e.action if some e in _escalations

# Built from the governing article and the message directly: called once per untouched action.
_not_granted_deny(governing, message) := {
	"decision": false,
	"reasons": {{
		"code": "action_not_granted",
		"article": governing.article,
		"item": governing.item,
		"message_zh": message.zh,
		"message_en": message.en,
	}},
	"obligations": set(),
	"escalate_to": "",
	"accountable": set(),
}

_granted(act) if {
	some g in _grants
	g.action == act
}

_denied(act) if {
	some d in _denials
	d.action == act
}

_prohibited(act) if {
	some p in _prohibitions
	p.action == act
}

_escalated(act) if {
	some e in _escalations
	e.action == act
}

_allowed(act) if {
	_granted(act)
	not _denied(act)
	not _prohibited(act)
	not _escalated(act)
}

_decide(act) := {
	"decision": true,
	"reasons": {_reason(g) | some g in _grants; g.action == act},
	"obligations": {_reason(o) | some o in _obligations; o.action == act},
	"escalate_to": "",
	"accountable": {_without_action(a) | some a in _accountable; a.action == act},
} if {
	_allowed(act)
}

_decide(act) := {
	"decision": false,
	"reasons": _deny_reasons(act),
	"obligations": set(),
	"escalate_to": _escalate_to(act),
	"accountable": set(),
} if {
	not _allowed(act)
}

_deny_reasons(act) := ({_reason(d) | some d in _denials | _prohibitions; d.action == act} | _not_granted(act)) | _escalation_reasons(act)

# A missing grant is a reason of its own, unless a prohibition or an escalation already
# says why the subject may not act (the text gives the act to someone else).
_not_granted(act) := {_not_granted_reason(act)} if {
	not _granted(act)
	not _prohibited(act)
	not _escalated(act)
}

_not_granted(act) := set() if _granted(act)

_not_granted(act) := set() if _prohibited(act)

_not_granted(act) := set() if _escalated(act)

# The reason cites the article that grants the action to others (its governing article).
_not_granted_reason(act) := {
	"code": "action_not_granted",
	"article": governing.article,
	"item": governing.item,
	"message_zh": _not_granted_message.zh,
	"message_en": _not_granted_message.en,
} if {
	governing := catalog.actions[act].articles[0]
}

_not_granted_message := object.get(messages, "action_not_granted", {"zh": "action_not_granted", "en": "action_not_granted"})

_escalation_reasons(act) := {_reason(e) | some e in _escalations; e.action == act}

_escalate_to(act) := "committee" if {
	some e in _escalations
	e.action == act
	e.to == "committee"
}

_escalate_to(act) := "chief" if {
	not _escalate_to_committee(act)
	some e in _escalations
	e.action == act
	e.to == "chief"
}

_escalate_to(act) := "" if not _escalated(act)

_escalate_to_committee(act) if {
	some e in _escalations
	e.action == act
	e.to == "committee"
}

# Messages live in data keyed by code; a code without a message still keeps its reason.
_reason(r) := {
	"code": r.code,
	"article": object.get(r, "article", object.get(messages, [r.code, "article"], "")),
	"item": object.get(r, "item", object.get(messages, [r.code, "item"], 0)),
	"message_zh": _message(r, "zh", "detail_zh", "；"),
	"message_en": _message(r, "en", "detail_en", "; "),
}

# An entry may add a detail (e.g. which power list decided) to its fixed message.
_message(r, lang, key, separator) := text if {
	base := object.get(messages, [r.code, lang], r.code)
	text := concat(separator, [base, r[key]])
}

_message(r, lang, key, _) := object.get(messages, [r.code, lang], r.code) if not r[key]

_without_action(a) := {k: v | some k, v in a; k != "action"}
