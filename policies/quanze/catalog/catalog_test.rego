package quanze.catalog_test

import rego.v1

import data.quanze.catalog
import data.quanze.messages

numerals := {"一", "二", "三", "四", "五", "六", "七", "八", "九", "十"}

valid_article(a) if {
	count(a) > 0
	every ch in split(a, "") {
		ch in numerals
	}
}

# §2: every action has both names and at least one governing article with a valid numeral.
test_every_action_names_and_cites_an_article if {
	every id, action in catalog.actions {
		action.zh != ""
		action.en != ""
		count(action.articles) > 0
		every ref in action.articles {
			valid_article(ref.article)
			is_number(ref.item)
		}
	}
}

# §1: every role has both names and a kind; case-relative roles are marked as such.
test_every_role_names_and_kind if {
	every id, role in catalog.roles {
		role.zh != ""
		role.en != ""
		role.kind in {"person", "body", "unit", "institution", "case_relative"}
	}
	{id | some id, r in catalog.roles; r.kind == "case_relative"} == {
		"sole_procurator", "lead_procurator", "team_procurator", "handling_procurator", "supervising_procurator",
	}
}

# Every message has both languages; articles, where given, are valid numerals.
test_every_message_is_bilingual_and_cites_validly if {
	every code, m in messages {
		m.zh != ""
		m.en != ""
		is_number(m.item)
		cites_validly(m)
	}
}

# System reasons (evaluation_error, invalid_request) cite no article.
cites_validly(m) if m.article == ""

cites_validly(m) if valid_article(m.article)

# A17: every pattern of the catch-all vocabulary is lower case and names an action of the catalog;
# A44: the criminal-only acts are actions of the catalog.
test_task_patterns_and_criminal_acts_name_catalog_actions if {
	every pattern, act in catalog.task_patterns.patterns {
		pattern == lower(pattern)
		catalog.actions[act]
	}
	every act in catalog.criminal_only {
		catalog.actions[act]
	}
}

# The role duties a deny cites (outside_role_duties) are valid articles where a role has them.
test_role_duties_cite_valid_articles if {
	every _, role in catalog.roles {
		duties_valid(role)
	}
	count({id | some id, role in catalog.roles; role.duties}) >= 10
}

duties_valid(role) if not role.duties

duties_valid(role) if {
	valid_article(role.duties.article)
	is_number(role.duties.item)
}
