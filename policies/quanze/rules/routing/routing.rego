# METADATA
# title: Routing of decisive matters (六, 八, 十一, 十三, 二十二, 二十四, 四十六, 四十七)
# description: |
#   Who may take a decision that binds the case in the procuratorate's name (四十七),
#   following inventory §4.3. The level a matter needs:
#     committee  if a 十一 trigger holds (it prevails over 十三, A1), or a power list sends it there;
#     chief      if a 十三 trigger holds, the joint meeting's majority disagrees with the
#                procurator (二十四), or the matter is outside the power list (六, A4);
#     procurator otherwise (六).
#   Who may decide at each level:
#     committee  — the committee, on the chief's referral (八);
#     chief      — the chief; a deputy chief or full-time member whose 四十六 delegation
#                  covers the action; the committee, on the chief's referral (二十二);
#     procurator — the sole or lead procurator of the case; the chief directly (二十二);
#                  a 四十六 delegate; the committee on referral.
#   Anyone else in the chain of decision is denied with `escalate_to` the level and the
#   grounds, and a handling procurator is told the alternative: propose an opinion (八).
#   Non-decisive acts follow role grants even in triggered cases (四十七).
package quanze.rules.routing

import rego.v1

import data.quanze.lib.capacity
import data.quanze.lib.delegation
import data.quanze.lib.matters
import data.quanze.lib.power_list
import data.quanze.lib.scope

# 四十七, A3: decisive matters, and the formal requests A33 treats alike.
decisive_actions := {
	"decision.prosecute", "decision.not_prosecute", "decision.protest",
	"decision.procuratorial_suggestion", "decision.other_decisive",
	"request.to_higher", "case.report_spp_approval", "committee.reconsider",
	"request.reply_to_lower",
}

# R11-0, R13-0: those in the chain of decision are told where a reserved matter goes.
deciding_roles := {
	"procurator", "department_head", "chief_procurator", "deputy_chief_procurator",
	"full_time_committee_member", "committee_member", "committee",
}

_acts contains act if {
	capacity.role in deciding_roles
	some act in scope.actions
	act in decisive_actions
}

# 四十七 (second sentence): a non-decisive matter is settled by the power list alone.
_acts contains "decision.procedural" if {
	capacity.role in deciding_roles
	"decision.procedural" in scope.actions
}

# ------------------------------------------------------------------ the level a matter needs

# Comprehensions below always bind a variable in their term and test rules with `== true`:
# the RVM mis-evaluates constant-term comprehensions such as {x | cond} and references to
# undefined rules inside comprehensions (see lib/matters.rego defaults). Functions have one
# definition here: the RVM also mishandled a second definition with a constant argument.

# 十一(2), (3), (4), (5): triggers that come with the act itself.
_act_committee_items := {"case.report_spp_approval": 2, "request.to_higher": 4, "committee.reconsider": 5}

_committee_items(act) := items if {
	by_act := {i | i := _act_committee_items[act]}
	protest := {i | i := 3; act == "decision.protest"; capacity.resource_props.major_difficult_complex == true}
	items := (matters.committee_triggers | by_act) | protest
}

# 十三(6): replying to a lower procuratorate's request is the chief's.
_chief_items(act) := matters.chief_triggers | {i | i := 6; act == "request.reply_to_lower"}

# 四十七: a non-decisive matter (decision.procedural) is settled by the power list alone.
committee_grounds(act) := reserved | _list_to_committee(act) if {
	reserved := {r |
		act != "decision.procedural"
		some i in _committee_items(act)
		r := {"code": "reserved_for_committee", "item": i}
	}
}

# 十六, 四十七: the governing power list (or the request) sends the act to the committee.
_list_to_committee(act) := {g |
	power_list.level(act) == "committee"
	g := object.union({"code": "power_list_reserves_for_committee"}, power_list.provenance)
}

chief_grounds(act) := (reserved | disagreement) | _list_to_chief(act) if {
	reserved := {r |
		act != "decision.procedural"
		some i in _chief_items(act)
		r := {"code": "reserved_for_chief", "item": i}
	}
	disagreement := {d |
		act != "decision.procedural"
		matters.majority_disagrees == true
		d := {"code": "joint_meeting_majority_disagrees"}
	}
}

# 六, A4: outside the power list (or not shown inside it) the chief decides.
_list_to_chief(act) := {g |
	power_list.level(act) == "chief"
	g := object.union({"code": "outside_power_list"}, power_list.provenance)
}

level(act) := "committee" if count(committee_grounds(act)) > 0

level(act) := "chief" if {
	count(committee_grounds(act)) == 0
	count(chief_grounds(act)) > 0
}

level(act) := "procurator" if {
	count(committee_grounds(act)) == 0
	count(chief_grounds(act)) == 0
}

# Functions are evaluated afresh by every caller; these sets compute the level and the
# grant of each act in scope once, so a single Check stays inside the RVM's budget.
_level_pairs contains [act, lvl] if {
	some act in _acts
	lvl := level(act)
}

_level(act) := pair[1] if {
	some pair in _level_pairs
	pair[0] == act
}

_grant_pairs contains [act, grant] if {
	some act in _acts
	grant := decider_grant(act)
}

_grant(act) := pair[1] if {
	some pair in _grant_pairs
	pair[0] == act
}

# ------------------------------------------------------------------ who may decide

_referred_to_committee if {
	capacity.role == "committee"
	capacity.named(capacity.ctx.referred_by)
}

# The grant (its code and article) for a subject who may decide `act` at its level.
decider_grant(act) := {"code": "committee_decides", "article": "十一"} if {
	_level(act) == "committee"
	_referred_to_committee
}

decider_grant(act) := {"code": "chief_decides_reserved_matter", "article": "十三"} if {
	_level(act) == "chief"
	capacity.role == "chief_procurator"
}

decider_grant(act) := {"code": "delegate_decides_for_chief", "article": "四十六"} if {
	_level(act) in {"chief", "procurator"}
	delegation.covers(act)
}

decider_grant(act) := {"code": "committee_decides_on_referral", "article": "二十二"} if {
	_level(act) in {"chief", "procurator"}
	_referred_to_committee
}

decider_grant(act) := object.union({"code": "procurator_decides_within_power", "article": "六"}, power_list.provenance) if {
	_level(act) == "procurator"
	capacity.acts_as_procurator
	some case_role in {"sole_procurator", "lead_procurator"}
	case_role in capacity.case_roles
	capacity.role != "chief_procurator"
	not delegation.covers(act)
}

decider_grant(act) := {"code": "chief_decides_directly", "article": "二十二"} if {
	_level(act) == "procurator"
	capacity.role == "chief_procurator"
}

_decides(act) if _grant(act)

# Bound first: regorus raises when a builtin gets an undefined function result.
grants contains object.union({"action": act}, grant) if {
	some pair in _grant_pairs
	act := pair[0]
	grant := pair[1]
}

# ------------------------------------------------------------------ escalation

escalations contains object.union({"action": act, "to": to, "item": 0}, g) if {
	capacity.role != "committee"
	some act in _acts
	to := _level(act)
	to in {"chief", "committee"}
	not _decides(act)
	some g in _grounds_at(act, to)
}

# The grounds of the level a matter goes to (A1: the committee's own, when it prevails).
_grounds_at(act, "committee") := committee_grounds(act)

_grounds_at(act, "chief") := chief_grounds(act)

# 八: "应当提出处理意见" — the handling procurator proposes instead of deciding.
escalations contains {"action": act, "to": _level(act), "code": "propose_opinion_instead"} if {
	some act in _acts
	_level(act) in {"chief", "committee"}
	not _decides(act)
	capacity.handles_case
}

# 八, 二十二: the chief brings a committee matter before the committee instead.
escalations contains {"action": act, "to": "committee", "code": "refer_to_committee_instead"} if {
	some act in _acts
	_level(act) == "committee"
	capacity.role == "chief_procurator"
}

# ------------------------------------------------------------------ denials at the procurator level

# Prohibitions here are denials that fully explain the missing grant: the Opinion gives the
# decision to someone else, so "not granted" would add nothing.

# 六: only the sole or lead procurator of this case decides within power.
prohibitions contains {"action": act, "code": "only_lead_procurator_decides"} if {
	some act in _acts
	_level(act) == "procurator"
	not _decides(act)
	"team_procurator" in capacity.case_roles
}

prohibitions contains {"action": act, "code": "not_deciding_procurator"} if {
	some act in _acts
	_level(act) == "procurator"
	not _decides(act)
	not "team_procurator" in capacity.case_roles
	capacity.role != "committee"
}

# 八: the committee decides only what the chief refers to it.
prohibitions contains {"action": act, "code": "committee_needs_chief_referral"} if {
	capacity.role == "committee"
	not capacity.named(capacity.ctx.referred_by)
	some act in _acts
}

# 三 (R03-2): "由检察长、副检察长和若干资深检察官组成，成员应当为单数，并设专职委员". When the
# committee's membership is given (subject.properties.member_roles: id → role), it decides only
# with an odd number of members, the chief among them, and a full-time member.
denials contains {"action": act, "code": "committee_composition_invalid"} if {
	capacity.role == "committee"
	_committee_composition_invalid
	some act in _acts
}

# object.get and is_object, not a bare reference: on the RVM a binding of an absent
# attribute did not fail the body, so the composition of no membership read as invalid.
_committee_composition_invalid if {
	members := object.get(capacity.subject_props, "member_roles", null)
	is_object(members)
	count(members) % 2 == 0
}

_committee_composition_invalid if {
	members := object.get(capacity.subject_props, "member_roles", null)
	is_object(members)
	roles := {r | some _, r in members}
	count(roles & {"chief_procurator", "full_time_committee_member"}) < 2
}

# 六: the lead decides or proposes only after the team has discussed, or been heard.
denials contains {"action": act, "code": "team_discussion_required"} if {
	"lead_procurator" in capacity.case_roles
	not capacity.ctx.team_discussion_held == true
	some act in _acts
	_grant(act).code == "procurator_decides_within_power"
}

denials contains {"action": "opinion.propose", "code": "team_discussion_required"} if {
	"opinion.propose" in _proposals
	"lead_procurator" in capacity.case_roles
	not capacity.ctx.team_discussion_held == true
}

# ------------------------------------------------------------------ proposing an opinion (六, 八)

_proposals contains "opinion.propose" if {
	capacity.acts_as_procurator
	"opinion.propose" in scope.actions
}

grants contains {"action": "opinion.propose", "code": "propose_handling_opinion"} if {
	"opinion.propose" in _proposals
	some case_role in {"sole_procurator", "lead_procurator"}
	case_role in capacity.case_roles
}

prohibitions contains {"action": "opinion.propose", "code": "only_lead_procurator_decides"} if {
	"opinion.propose" in _proposals
	"team_procurator" in capacity.case_roles
}

# ------------------------------------------------------------------ obligations

# 六: dissenting views in the team are recorded.
obligations contains {"action": act, "code": "record_dissent"} if {
	"lead_procurator" in capacity.case_roles
	some act in _acts | _proposals
	_leads_decision_or_proposal(act)
}

_leads_decision_or_proposal(act) if _grant(act).code == "procurator_decides_within_power"

_leads_decision_or_proposal("opinion.propose") if "opinion.propose" in _proposals

# 四十七: the committee's decision is made in the procuratorate's name.
obligations contains {"action": act, "code": "issue_in_procuratorate_name"} if {
	_referred_to_committee
	some act in _acts
	_decides(act)
}

# 十六, A32: deciding under a list not yet filed with the SPP leaves the filing outstanding.
obligations contains {"action": act, "code": "power_list_not_filed_with_spp"} if {
	power_list.unfiled == true
	some act in _acts
	_grant(act).code == "procurator_decides_within_power"
}

# A24: the chief's own decision is recorded as such; the procurator's opinion stays unchanged.
obligations contains {"action": act, "code": "record_as_chief_decision"} if {
	some act in _acts
	_grant(act).code in {"chief_decides_directly", "delegate_decides_for_chief"}
}

# 八, A5: a chief matter reaches the chief after the department head's review, or says why not.
obligations contains {"action": act, "code": "record_department_head_review"} if {
	not capacity.ctx.department_head_review_done == true
	some act in _acts
	_grant(act).code in {"chief_decides_reserved_matter", "delegate_decides_for_chief"}
	_level(act) == "chief"
}

# ------------------------------------------------------------------ responsibility (§5)

_decision_capacity := {
	"committee_decides": ["committee_member", "二十七"],
	"committee_decides_on_referral": ["committee_member", "二十七"],
	"chief_decides_reserved_matter": ["chief_procurator", "二十八"],
	"chief_decides_directly": ["chief_procurator", "二十八"],
	"delegate_decides_for_chief": [capacity.role, "二十八"],
}

# P1, P2 (二十九): the sole or lead procurator answers for a decision within power.
accountable contains {"action": act, "subject_id": input.subject.id, "capacity": case_role, "responsibility": "judicial", "article": "二十九"} if {
	some act in _acts
	_grant(act).code == "procurator_decides_within_power"
	some case_role in {"sole_procurator", "lead_procurator"}
	case_role in capacity.case_roles
}

# P3, P4, P5: the chief, a delegate treated as the chief (A9), or each committee member for
# their own vote; the committee acts as a body, so its members are named by capacity only.
accountable contains {"action": act, "subject_id": _decider_id, "capacity": c[0], "responsibility": "judicial", "article": c[1]} if {
	some act in _acts
	c := _decision_capacity[_grant(act).code]
}

_decider_id := "" if capacity.role == "committee"

_decider_id := input.subject.id if capacity.role != "committee"

# P3, P5 (二十七, 二十九): the handling procurators answer for the facts they reported.
accountable contains {"action": act, "subject_id": p, "capacity": "handling_procurator", "responsibility": "judicial", "article": _facts_article(act)} if {
	some act in _acts
	_grant(act).code in object.keys(_decision_capacity)
	some p in capacity.handling_procurators
	p != input.subject.id
}

_facts_article(act) := "二十七" if _grant(act).code in {"committee_decides", "committee_decides_on_referral"}

_facts_article(act) := "二十九" if not _grant(act).code in {"committee_decides", "committee_decides_on_referral"}

# P1 (二十九): the proposer answers for the facts and opinion proposed.
accountable contains {"action": "opinion.propose", "subject_id": input.subject.id, "capacity": "handling_procurator", "responsibility": "judicial", "article": "二十九"} if {
	"opinion.propose" in _proposals
	capacity.handles_case
}
