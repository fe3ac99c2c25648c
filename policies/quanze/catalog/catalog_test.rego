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
