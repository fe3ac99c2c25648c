package quanze.authz_test

import rego.v1

import data.quanze.authz
import data.quanze.catalog
import data.quanze.testlib as t

everyone := [t.assistant, t.senior_assistant, t.clerk, t.dept_head, t.person("p-A1", "procurator", {})]

# Default deny, citing every ground: the article that gives the act to others (十四(6), the
# action's governing article) and the article that sets out the acting role's duties (十九).
test_ungranted_action_denied_citing_governing_and_role_articles if {
	d := t.decide(t.clerk, "hearing.preside", t.sole_case, t.guided)
	d.decision == false
	{[r.code, r.article, r.item] | some r in d.reasons} == {
		["action_not_granted", "十四", 6],
		["outside_role_duties", "十九", 0],
	}
	some r in d.reasons
	r.code == "action_not_granted"
	r.message_zh == data.quanze.messages.action_not_granted.zh
}

# A prohibition keeps the article that grants the act to others beside it: a department head
# may not change an opinion (二十四), which is its author's (六, A24).
test_prohibited_act_cites_the_article_granting_it_to_others if {
	d := t.decide(t.dept_head, "opinion.edit", t.escalated_case, {})
	{[r.code, r.article] | some r in d.reasons} == {
		["dept_head_cannot_change_opinion", "二十四"],
		["action_not_granted", "六"],
	}
}

# A role's own article is not repeated when it is the article governing the act: a procurator
# who does not handle the case is told only why (十四).
test_role_article_not_repeated_when_it_governs_the_act if {
	d := t.decide(t.person("p-X9", "procurator", {}), "case.summon_suspect", t.sole_case, {})
	{r.article | some r in d.reasons} == {"十四"}
}

# Contract: reasons are never empty, every reason cites an article, denies carry no obligations.
test_every_answer_for_every_action_has_cited_reasons if {
	every subject in everyone {
		ds := authz.decisions with input as {"subject": subject, "resource": t.sole_case, "context": t.guided}
		count(ds) == count(catalog.actions)
		every _, d in ds {
			count(d.reasons) > 0
			every r in d.reasons {
				r.article != ""
			}
			deny_carries_no_duties(d)
		}
	}
}

deny_carries_no_duties(d) if d.decision == true

deny_carries_no_duties(d) if {
	d.decision == false
	count(d.obligations) == 0
	count(d.accountable) == 0
}

# ListAllowedActions and Check are the same function: they agree on every action.
test_decisions_agree_with_decision_for_every_action if {
	every subject in everyone {
		ds := authz.decisions with input as {
			"subject": subject,
			"resource": t.team_case,
			"context": {"supervising_procurator": "p-T2"},
		}
		every act, listed in ds {
			listed == t.decide(subject, act, t.team_case, {"supervising_procurator": "p-T2"})
		}
	}
}

# A subject without an acting role is denied everything.
test_subject_without_role_denied if {
	d := t.decide(
		{"type": "user", "id": "u-1", "properties": {"procuratorate": "PROC-CITY-A"}},
		"record.take",
		t.sole_case,
		t.guided,
	)
	d.decision == false
	t.codes(d) == {"action_not_granted"}
}

# 四.3 routing: the committee (十一) prevails over the chief (十三) when both are triggered,
# and an escalated matter is denied with the escalation's own reason.
test_escalation_to_committee_prevails_over_chief if {
	escalations := {
		{"action": "record.take", "to": "chief", "code": "assistant_duty"},
		{"action": "record.take", "to": "committee", "code": "clerk_duty"},
	}
	d := _decide_with_escalations(escalations)
	d.decision == false
	d.escalate_to == "committee"
	t.codes(d) == {"assistant_duty", "clerk_duty"}
}

test_escalation_to_chief_alone_routes_to_chief if {
	escalations := {{"action": "record.take", "to": "chief", "code": "clerk_duty"}}
	d := _decide_with_escalations(escalations)
	d.decision == false
	d.escalate_to == "chief"
}

# A clerk's record.take answered as though the packages had found exactly `escalations`.
_decide_with_escalations(escalations) := d if {
	request := t.request(t.clerk, "record.take", t.sole_case, t.guided)
	parts := authz.parts with input as request
	found := {kind: entries |
		some kind, found_entries in parts
		entries := _replaced(kind, found_entries, escalations)
	}
	d := authz.answer("record.take", found) with input as request
}

# 十七(7), 十八(5), 十九(5), A17: a catch-all is answered as the act its task names only for a role
# whose list has that catch-all; anyone else asking for it is simply not granted it.
test_catch_all_of_another_role_not_granted_even_naming_an_act if {
	cases := [
		[t.clerk, "technical.assist", "record.take"],
		[t.person("tech-T1", "technical_staff", {"department": "DEPT-TECH"}), "task.assigned", "forensic.appraise"],
		[t.person("police-J1", "judicial_police", {"department": "DEPT-POLICE"}), "task.assigned", "person.escort"],
		[t.person("chief-A", "chief_procurator", {}), "task.assigned", "delegation.grant"],
		[t.person("p-A1", "procurator", {}), "technical.assist", "decision.prosecute"],
	]
	every c in cases {
		d := t.decide(c[0], c[1], t.sole_case, object.union(t.assigned, {"assigned_task": c[2]}))
		d.decision == false
		not "catch_all_decided_as_act" in t.codes(d)
		"action_not_granted" in t.codes(d)
	}
}

_replaced("escalations", _, escalations) := escalations

_replaced(kind, entries, _) := entries if kind != "escalations"
