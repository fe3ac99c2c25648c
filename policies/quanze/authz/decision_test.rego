package quanze.authz_test

import rego.v1

import data.quanze.authz
import data.quanze.catalog
import data.quanze.testlib as t

everyone := [t.assistant, t.senior_assistant, t.clerk, t.dept_head, t.person("p-A1", "procurator", {})]

# Default deny: a role no rule grants anything gets a deny citing the action's governing article.
test_ungranted_action_denied_citing_governing_article if {
	d := t.decide(t.clerk, "hearing.preside", t.sole_case, t.guided)
	d.decision == false
	d.reasons == {{
		"code": "action_not_granted", "article": "十四", "item": 6,
		"message_zh": data.quanze.messages.action_not_granted.zh,
		"message_en": data.quanze.messages.action_not_granted.en,
	}}
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
		ds := authz.decisions with input as {"subject": subject, "resource": t.team_case, "context": {"supervising_procurator": "p-T2"}}
		every act, listed in ds {
			listed == t.decide(subject, act, t.team_case, {"supervising_procurator": "p-T2"})
		}
	}
}

# A subject without an acting role is denied everything.
test_subject_without_role_denied if {
	d := t.decide({"type": "user", "id": "u-1", "properties": {"procuratorate": "PROC-CITY-A"}}, "record.take", t.sole_case, t.guided)
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
	d := t.decide(t.clerk, "record.take", t.sole_case, t.guided) with authz._escalations as escalations
	d.decision == false
	d.escalate_to == "committee"
	t.codes(d) == {"assistant_duty", "clerk_duty"}
}

test_escalation_to_chief_alone_routes_to_chief if {
	escalations := {{"action": "record.take", "to": "chief", "code": "clerk_duty"}}
	d := t.decide(t.clerk, "record.take", t.sole_case, t.guided) with authz._escalations as escalations
	d.decision == false
	d.escalate_to == "chief"
}
