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
	data.quanze.lib.capacity.role in deciding_roles
	some act in data.quanze.lib.scope.actions
	act in decisive_actions
}

# 四十七 (second sentence): a non-decisive matter is settled by the power list alone.
_acts contains "decision.procedural" if {
	data.quanze.lib.capacity.role in deciding_roles
	"decision.procedural" in data.quanze.lib.scope.actions
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
	protest := {i |
		i := 3
		act == "decision.protest"
		data.quanze.lib.capacity.resource_props.major_difficult_complex == true
	}
	items := (data.quanze.lib.matters.committee_triggers | by_act) | protest
}

# 十三(6): replying to a lower procuratorate's request is the chief's.
_chief_items(act) := data.quanze.lib.matters.chief_triggers | {i | i := 6; act == "request.reply_to_lower"}

# 四十七: a non-decisive matter (decision.procedural) is settled by the power list alone, not by
# 十一 or 十三.
committee_grounds(act) := reserved | _list_to_committee(act) if {
	reserved := {r |
		act != "decision.procedural"
		some i in _committee_items(act)
		r := {"code": "reserved_for_committee", "item": i}
	}
}

# 十六, 四十七: the governing power list (or the request) sends the act to the committee.
_list_to_committee(act) := {g |
	data.quanze.lib.power_list.level(act) == "committee"
	g := object.union({"code": "power_list_reserves_for_committee"}, data.quanze.lib.power_list.provenance)
}

chief_grounds(act) := (reserved | disagreement) | _list_to_chief(act) if {
	reserved := {r |
		act != "decision.procedural"
		some i in _chief_items(act)
		r := {"code": "reserved_for_chief", "item": i}
	}
	# 二十四 "应当将案件报检察长决定" holds for every matter a joint meeting discussed: 四十七
	# narrows 十一 and 十三 only.
	disagreement := {d |
		data.quanze.lib.matters.majority_disagrees == true
		d := {"code": "joint_meeting_majority_disagrees"}
	}
}

# 六, A4: outside the power list (or not shown inside it) the chief decides.
_list_to_chief(act) := {g |
	data.quanze.lib.power_list.level(act) == "chief"
	g := object.union({"code": "outside_power_list"}, data.quanze.lib.power_list.provenance)
}

# Functions are evaluated afresh by every caller; these sets compute, once per act in scope,
# the level it needs with the grounds that put it there (A1: the committee's, when it
# prevails), and the grant that lets the subject decide it, so a Check stays inside the RVM's
# budget.
_level_triples contains [act, lvl, grounds] if {
	some act in _acts
	committee := committee_grounds(act)
	chief := chief_grounds(act)
	[lvl, grounds] := _level_of(committee, chief)
}

_level_of(committee, _) := ["committee", committee] if count(committee) > 0

_level_of(committee, chief) := ["chief", chief] if {
	count(committee) == 0
	count(chief) > 0
}

_level_of(committee, chief) := ["procurator", set()] if {
	count(committee) == 0
	count(chief) == 0
}

_level(act) := triple[1] if {
	some triple in _level_triples
	triple[0] == act
}

# The grounds of the level `act` needs.
_grounds(act) := triple[2] if {
	some triple in _level_triples
	triple[0] == act
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

# 八, 十一: "报检察长提请检察委员会讨论决定" — the referrer is the chief of the case's
# procuratorate, or a deputy chief or full-time member whose delegation covers the referral
# (四十六), as the directory and the registry show; a name alone is not a referral.
_referred_to_committee if {
	data.quanze.lib.capacity.role == "committee"
	_referral_verified
}

_referral_verified if {
	data.quanze.lib.capacity.verified_approver(data.quanze.lib.capacity.ctx.referred_by, "case.refer_to_committee")
}


# 四十六: a committee decision on a delegate's referral cites the delegation too.
grants contains {"action": act, "code": "referred_by_delegate", "article": "四十六"} if {
	data.quanze.lib.capacity.role == "committee"
	_referral_verified
	not data.quanze.lib.capacity.ctx.referred_by == data.quanze.lib.directory.chief_of(
		data.quanze.lib.capacity.resource_procuratorate,
	)
	some act in _acts
	_decides(act)
}

# The capacity in which a subject may decide `act` at its level (code and article).
decider_grant(act) := {"code": "committee_decides", "article": "十一"} if {
	_level(act) == "committee"
	_referred_to_committee
}

decider_grant(act) := {"code": "chief_decides_reserved_matter", "article": "十三"} if {
	_level(act) == "chief"
	data.quanze.lib.capacity.role == "chief_procurator"
}

decider_grant(act) := object.union(
	{"code": "delegate_decides_for_chief", "article": "四十六"},
	data.quanze.lib.delegation.delegated_by(act),
) if {
	_level(act) == "chief"
	data.quanze.lib.delegation.covers(act)
}

decider_grant(act) := {"code": "committee_decides_on_referral", "article": "二十二"} if {
	_level(act) in {"chief", "procurator"}
	_referred_to_committee
}

# 六: within power the sole or lead procurator decides — a chief, deputy chief or department
# head who handles the case as its sole or lead procurator too, bound by 六 as any lead is.
decider_grant(act) := object.union(
	{"code": "procurator_decides_within_power", "article": "六"},
	data.quanze.lib.power_list.provenance,
) if {
	_level(act) == "procurator"
	data.quanze.lib.capacity.decides_as_handler
}

# 二十二 "也可以直接作出决定": the chief reviewing a case others handle; 四十六: a delegate.
decider_grant(act) := {"code": "chief_decides_directly", "article": "二十二"} if {
	_level(act) == "procurator"
	data.quanze.lib.capacity.role == "chief_procurator"
	not data.quanze.lib.capacity.decides_as_handler
}

decider_grant(act) := object.union(
	{"code": "delegate_decides_for_chief", "article": "四十六"},
	data.quanze.lib.delegation.delegated_by(act),
) if {
	_level(act) == "procurator"
	not data.quanze.lib.capacity.decides_as_handler
	data.quanze.lib.delegation.covers(act)
}

_decides(act) if _grant(act)

# Capacities whose grant is stated through the grounds of the matter instead (below).
_grounded_capacities := {"chief_decides_reserved_matter", "committee_decides"}

# Bound first: regorus raises when a builtin gets an undefined function result.
grants contains object.union({"action": act}, grant) if {
	some pair in _grant_pairs
	act := pair[0]
	grant := pair[1]
	not grant.code in _grounded_capacities
}

# An allow cites the ground that made the matter the decider's: each 十三 item, the joint
# meeting's disagreement (二十四) or the power list (六, with the list that decided) for the
# chief or the chief's delegate; each 十一 item or the power list (四十七) for the committee.
_chief_ground_codes := {
	"reserved_for_chief": "chief_decides_reserved_matter",
	"joint_meeting_majority_disagrees": "chief_decides_after_joint_meeting",
	"outside_power_list": "chief_decides_outside_power_list",
}

_committee_ground_codes := {
	"reserved_for_committee": "committee_decides",
	"power_list_reserves_for_committee": "committee_decides_per_power_list",
}

grants contains object.union(ground, {"action": act, "code": _chief_ground_codes[ground.code]}) if {
	some pair in _grant_pairs
	act := pair[0]
	pair[1].code in {"chief_decides_reserved_matter", "delegate_decides_for_chief"}
	_level(act) == "chief"
	some ground in _grounds(act)
}

grants contains object.union(ground, {"action": act, "code": _committee_ground_codes[ground.code]}) if {
	some pair in _grant_pairs
	act := pair[0]
	pair[1].code == "committee_decides"
	some ground in _grounds(act)
}

# ------------------------------------------------------------------ escalation

# The action goes last, so per-action evaluation can see which action the entry is for.
escalations contains object.union(object.union({"to": to, "item": 0}, g), {"action": act}) if {
	data.quanze.lib.capacity.role != "committee"
	some act in _acts
	to := _level(act)
	to in {"chief", "committee"}
	not _decides(act)
	some g in _grounds(act)
}

# 八: "应当提出处理意见" — the handling procurator proposes instead of deciding.
escalations contains {"action": act, "to": _level(act), "code": "propose_opinion_instead"} if {
	some act in _acts
	_level(act) in {"chief", "committee"}
	not _decides(act)
	data.quanze.lib.capacity.handles_case
}

# 八, 二十二: the chief brings a committee matter before the committee instead.
escalations contains {"action": act, "to": "committee", "code": "refer_to_committee_instead"} if {
	some act in _acts
	_level(act) == "committee"
	data.quanze.lib.capacity.role == "chief_procurator"
}

# ------------------------------------------------------------------ denials at the procurator level

# Prohibitions here say why the subject is not the one the Opinion gives the decision to; the
# answer adds the article that gives it to others. One marked "condition" is instead the failed
# condition of the subject's own grant (authz/decision.rego).

# 六: only the sole or lead procurator of this case decides within power.
prohibitions contains {"action": act, "code": "only_lead_procurator_decides"} if {
	some act in _acts
	_level(act) == "procurator"
	not _decides(act)
	"team_procurator" in data.quanze.lib.capacity.case_roles
}

prohibitions contains {"action": act, "code": "not_deciding_procurator"} if {
	some act in _acts
	_level(act) == "procurator"
	not _decides(act)
	not "team_procurator" in data.quanze.lib.capacity.case_roles
	data.quanze.lib.capacity.role != "committee"
}

# 八: the committee decides only what the chief refers to it.
prohibitions contains {"action": act, "code": "committee_needs_chief_referral", "condition": true} if {
	data.quanze.lib.capacity.role == "committee"
	not data.quanze.lib.capacity.named(data.quanze.lib.capacity.ctx.referred_by)
	some act in _acts
}

# 八: a referral the directory does not bear out: the referrer is neither the chief nor a
# delegate whose delegation covers referrals.
prohibitions contains {
	"action": act,
	"code": "referral_not_by_chief",
	"condition": true,
	"detail_zh": sprintf(
		"名录：%s 的检察长为 %s；登记簿中 %s 无涵盖提请检察委员会的委托",
		[data.quanze.lib.capacity.resource_procuratorate, _chief, referrer],
	),
	"detail_en": sprintf(
		"per the directory the chief of %s is %s, and the registry shows %s holding no delegation covering referrals to the committee",
		[data.quanze.lib.capacity.resource_procuratorate, _chief, referrer],
	),
} if {
	data.quanze.lib.capacity.role == "committee"
	referrer := data.quanze.lib.capacity.ctx.referred_by
	data.quanze.lib.capacity.named(referrer)
	not _referral_verified
	some act in _acts
}

_chief := data.quanze.lib.directory.recorded_chief(data.quanze.lib.capacity.resource_procuratorate)

# 三 (R03-2): "由检察长、副检察长和若干资深检察官组成，成员应当为单数，并设专职委员". The committee
# decides only while its membership in the directory is valid today: an odd number of members,
# the chief and the deputy chiefs among them, and a full-time member.
denials contains {"action": act, "code": "committee_composition_invalid"} if {
	data.quanze.lib.capacity.role == "committee"
	_committee_composition_invalid
	some act in _acts
}

_committee_composition_invalid if {
	not data.quanze.lib.directory.committee_composition_valid(data.quanze.lib.directory.home_id)
}

# 六: the lead decides or proposes only after the team has discussed, or been heard — in
# whatever capacity the lead decides: a chief leading the team decides as its lead (五, 六).
denials contains {"action": act, "code": "team_discussion_required"} if {
	"lead_procurator" in data.quanze.lib.capacity.case_roles
	not data.quanze.lib.capacity.ctx.team_discussion_held == true
	some act in _acts
	_decides(act)
}

denials contains {"action": "opinion.propose", "code": "team_discussion_required"} if {
	"opinion.propose" in _proposals
	"lead_procurator" in data.quanze.lib.capacity.case_roles
	not data.quanze.lib.capacity.ctx.team_discussion_held == true
}

# ------------------------------------------------------------------ proposing an opinion (六, 八)

_proposals contains "opinion.propose" if {
	data.quanze.lib.capacity.acts_as_procurator
	"opinion.propose" in data.quanze.lib.scope.actions
}

grants contains {"action": "opinion.propose", "code": "propose_handling_opinion"} if {
	"opinion.propose" in _proposals
	data.quanze.lib.capacity.decides_as_handler
}

prohibitions contains {"action": "opinion.propose", "code": "only_lead_procurator_decides"} if {
	"opinion.propose" in _proposals
	"team_procurator" in data.quanze.lib.capacity.case_roles
}

# 八 "经部门负责人审核后报检察长决定": an opinion on a matter for the chief or the committee
# goes through the department head's review.
obligations contains {"action": "opinion.propose", "code": "route_through_department_head_review"} if {
	"opinion.propose" in _proposals
	data.quanze.lib.capacity.decides_as_handler
	data.quanze.lib.matters.for_chief_or_committee
}

# ------------------------------------------------------------------ changing an opinion (六, 二十二, 二十四, A24)

# A24: a procurator's opinion is changed only by its author, the sole or lead procurator who
# proposed it (a chief, deputy chief or department head handling the case as such included).
_editing if {
	data.quanze.lib.capacity.acts_as_procurator
	"opinion.edit" in data.quanze.lib.scope.actions
}

grants contains {"action": "opinion.edit", "code": "author_edits_opinion"} if {
	_editing
	data.quanze.lib.capacity.decides_as_handler
}

prohibitions contains {"action": "opinion.edit", "code": "only_author_edits_opinion"} if {
	_editing
	"team_procurator" in data.quanze.lib.capacity.case_roles
}

accountable contains {
	"action": "opinion.edit",
	"subject_id": input.subject.id,
	"capacity": case_role,
	"responsibility": "judicial",
	"article": "二十九",
} if {
	_editing
	data.quanze.lib.capacity.decides_as_handler
	some case_role in {"sole_procurator", "lead_procurator"}
	case_role in data.quanze.lib.capacity.case_roles
}

# 二十二, 三十, A24: the chief, deputy chiefs and full-time members who review another's case
# require re-examination, refer it or decide themselves; they never rewrite the opinion nor
# require it changed (a department head is barred by 二十四, rules/internal_checks).
prohibitions contains {"action": act, "code": "leader_cannot_change_opinion"} if {
	data.quanze.lib.capacity.role in {"chief_procurator", "deputy_chief_procurator", "full_time_committee_member"}
	not data.quanze.lib.capacity.decides_as_handler
	some act in data.quanze.lib.scope.actions
	act in {"opinion.edit", "opinion.demand_change"}
}

# ------------------------------------------------------------------ obligations

# 六: dissenting views in the team are recorded.
obligations contains {"action": act, "code": "record_dissent"} if {
	"lead_procurator" in data.quanze.lib.capacity.case_roles
	some act in _acts | _proposals
	_leads_decision_or_proposal(act)
}

_leads_decision_or_proposal(act) if _decides(act)

_leads_decision_or_proposal("opinion.propose") if "opinion.propose" in _proposals

# 四十七 "由检察委员会、检察长决定的，指的是以人民检察院名义作出…": the committee's decision, and
# the chief's (or a delegate's) on a matter reserved to the chief, are made in the procuratorate's
# name.
obligations contains {"action": act, "code": "issue_in_procuratorate_name"} if {
	_referred_to_committee
	some act in _acts
	_decides(act)
}

obligations contains {"action": act, "code": "issue_in_procuratorate_name"} if {
	some act in _acts
	_level(act) == "chief"
	_grant(act).code in {"chief_decides_reserved_matter", "delegate_decides_for_chief"}
}

# 十六, A32: deciding under a list not yet filed with the SPP leaves the filing outstanding.
obligations contains {"action": act, "code": "power_list_not_filed_with_spp"} if {
	data.quanze.lib.power_list.unfiled == true
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
	not data.quanze.lib.capacity.ctx.department_head_review_done == true
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
	"delegate_decides_for_chief": [data.quanze.lib.capacity.role, "二十八"],
}

_committee_decisions := {"committee_decides", "committee_decides_on_referral"}

# P1, P2 (二十九): the sole or lead procurator answers for a decision they take — within power,
# or as chief or delegate while leading the team or handling the case alone.
accountable contains {
	"action": act,
	"subject_id": input.subject.id,
	"capacity": case_role,
	"responsibility": "judicial",
	"article": "二十九",
} if {
	data.quanze.lib.capacity.decides_as_handler
	some act in _acts
	_decides(act)
	some case_role in {"sole_procurator", "lead_procurator"}
	case_role in data.quanze.lib.capacity.case_roles
}

# P3, P4, P5: the chief, a delegate treated as the chief (A9), or each committee member for
# their own vote; the committee acts as a body, so its members are named by capacity only.
accountable contains {
	"action": act,
	"subject_id": _decider_id,
	"capacity": c[0],
	"responsibility": "judicial",
	"article": c[1],
} if {
	some act in _acts
	c := _decision_capacity[_grant(act).code]
}

_decider_id := "" if data.quanze.lib.capacity.role == "committee"

_decider_id := input.subject.id if data.quanze.lib.capacity.role != "committee"

# P5 (二十七): "检察官对其汇报的事实负责" — for a committee decision the procurators who
# reported the case answer for the facts they reported.
accountable contains {
	"action": act,
	"subject_id": p,
	"capacity": "handling_procurator",
	"responsibility": "judicial",
	"article": "二十七",
} if {
	some act in _acts
	_grant(act).code in _committee_decisions
	some p in data.quanze.lib.capacity.handling_procurators
}

# P3 (二十九 para. 3): for a decision of the chief (or a delegate) they answer only where the
# request says they concealed or distorted facts, or left out important ones through gross
# negligence; then mainly they (and for the committee too).
accountable contains {
	"action": act,
	"subject_id": p,
	"capacity": "handling_procurator",
	"responsibility": "judicial",
	"article": "二十九",
} if {
	data.quanze.lib.capacity.reporting_fault
	some act in _acts
	_grant(act).code in object.keys(_decision_capacity)
	some p in data.quanze.lib.capacity.handling_procurators
	p != input.subject.id
}

# P1 (二十九): the proposer answers for the facts and opinion proposed.
accountable contains {
	"action": "opinion.propose",
	"subject_id": input.subject.id,
	"capacity": "handling_procurator",
	"responsibility": "judicial",
	"article": "二十九",
} if {
	"opinion.propose" in _proposals
	data.quanze.lib.capacity.handles_case
}
