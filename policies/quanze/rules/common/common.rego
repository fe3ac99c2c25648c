# METADATA
# title: Conditions common to every act
# description: |
#   Unless a rule says otherwise, a subject acts in a role they hold (四十五) — held as the
#   organisation directory says, not as the request claims — and on cases of the
#   procuratorate they belong to (四: the chief leads the case work of 本院, this
#   procuratorate). What the request says about people the directory knows must agree with
#   it: the subject's offices and the attributes they carry, the grants the subject relies
#   on (四十六, 二十三, 十四(10)) and the procurators named as handling the case (五). A claim
#   the directory contradicts denies every act, saying what the directory holds.
package quanze.rules.common

import rego.v1

# Conditions that do not depend on the action come before `some act`, so a whole-catalog
# evaluation iterates the catalog only when they hold.
denials contains {"action": act, "code": "role_not_held"} if {
	not data.quanze.lib.capacity.role_listed
	data.quanze.lib.capacity.subject_props.role
	some act in data.quanze.lib.scope.actions
}

denials contains object.union({"action": act}, problem) if {
	some problem in _claim_problems
	some act in data.quanze.lib.scope.actions
}

_claim_problems := data.quanze.lib.directory.claim_problems | data.quanze.lib.delegation.claim_problems

denials contains {"action": act, "code": "procuratorate_mismatch"} if {
	_bound_to_a_procuratorate
	not data.quanze.lib.capacity.same_procuratorate
	not _acts_across_procuratorates
	some act in data.quanze.lib.scope.actions

	# 二十一: a higher procuratorate acts on a lower one's cases by directive.
	data.quanze.catalog.actions[act].group != "inter_procuratorate"
}

# Every resource belongs to a procuratorate, and the request says which: one that does not
# cannot be checked against the subject's, so it is refused rather than waved through. A
# higher procuratorate's directive may name its target in the context instead (二十一).
_bound_to_a_procuratorate if input.resource.type

denials contains {"action": act, "code": "resource_procuratorate_required"} if {
	not data.quanze.lib.capacity.named(data.quanze.lib.capacity.resource_props.procuratorate)
	some act in data.quanze.lib.scope.actions
	data.quanze.catalog.actions[act].group != "inter_procuratorate"
}

# 三十五: a disciplinary committee (only at the SPP and the provinces) reviews the matters of
# the procuratorates below it; the rule below checks it is the competent one.
_acts_across_procuratorates if data.quanze.lib.capacity.role == "disciplinary_committee"

# 三十五: a disciplinary committee reviews the matters of the procuratorates its seat covers —
# the nearest at or above the matter's that has a committee (the SPP and the provinces).
denials contains {
	"action": act,
	"code": "disciplinary_committee_not_competent",
	"article": "三十五",
	"item": 0,
	"detail_zh": sprintf("名录：%s 的事项由 %s 的检察官惩戒委员会审议", [matter, seat]),
	"detail_en": sprintf("per the directory, matters of %s go to the disciplinary committee of %s", [matter, seat]),
} if {
	data.quanze.lib.capacity.role == "disciplinary_committee"
	matter := data.quanze.lib.capacity.resource_procuratorate
	seat := _seat_or_none(matter)
	seat != data.quanze.lib.directory.home_id
	some act in data.quanze.lib.scope.actions
}

_seat_or_none(matter) := seat if {
	seat := data.quanze.lib.directory.disciplinary_seat(matter)
}

_seat_or_none(matter) := "none" if not data.quanze.lib.directory.disciplinary_seat(matter)

# 五: "由独任检察官或者由两名以上检察官组成的办案组承办" — whoever the case names as handling it
# must be a procurator in the quota of the procuratorate that holds it.
denials contains {
	"action": act,
	"code": "handling_procurator_not_in_quota",
	"detail_zh": sprintf("名录：%s 不是 %s 的员额检察官", [
		concat("、", sort(_unlisted_handlers)),
		data.quanze.lib.capacity.resource_procuratorate,
	]),
	"detail_en": sprintf(
		"per the directory, %s %s not a procurator in the quota of %s",
		[concat(", ", sort(_unlisted_handlers)), _is_are, data.quanze.lib.capacity.resource_procuratorate],
	),
} if {
	count(_unlisted_handlers) > 0
	some act in data.quanze.lib.scope.actions
}

# 五: the team's own acts on a case whose team is composed against 五 (too few procurators, a lead
# outside it, a leader who is not its lead); the acts that compose a team check it themselves.
denials contains {
	"action": act,
	"code": "team_composition_invalid",
	"detail_zh": concat("；", sort({p.zh | some p in data.quanze.lib.capacity.team_composition_problems})),
	"detail_en": concat("; ", sort({p.en | some p in data.quanze.lib.capacity.team_composition_problems})),
} if {
	_in_the_team
	count(data.quanze.lib.capacity.team_composition_problems) > 0
	some act in data.quanze.lib.scope.actions
	not act in _composing_acts
}

_in_the_team if input.subject.id in data.quanze.lib.capacity.team_members

_in_the_team if data.quanze.lib.capacity.resource_props.lead_procurator == input.subject.id

_composing_acts := {"team.form", "team.designate_lead", "team.join", "case.assign"}

# 四十五: the staff member a discipline or quota record concerns (resource.subject_of_decision)
# works in the procuratorate that holds the record.
denials contains {
	"action": act,
	"code": "staff_member_not_of_procuratorate",
	"detail_zh": sprintf("名录：%s 不是 %s 的检察人员", [person, data.quanze.lib.capacity.resource_procuratorate]),
	"detail_en": sprintf(
		"per the directory %s is not on the staff of %s",
		[person, data.quanze.lib.capacity.resource_procuratorate],
	),
} if {
	person := data.quanze.lib.capacity.resource_props.subject_of_decision
	data.quanze.lib.capacity.named(person)
	not data.quanze.lib.directory.is_staff(person, data.quanze.lib.capacity.resource_procuratorate)
	some act in data.quanze.lib.scope.actions
}


_unlisted_handlers := {p |
	some p in data.quanze.lib.capacity.involved_procurators
	not data.quanze.lib.directory.is_procurator(p, data.quanze.lib.capacity.resource_procuratorate)
}

_is_are := "is" if count(_unlisted_handlers) == 1

_is_are := "are" if count(_unlisted_handlers) > 1
