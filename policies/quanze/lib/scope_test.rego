package quanze.lib.scope_test

import rego.v1

import data.quanze.catalog
import data.quanze.lib.scope
import data.quanze.testlib as t

test_scope_of_check_is_the_requested_action if {
	actions := scope.actions with input as t.request(t.clerk, "record.take", t.sole_case, {})
	actions == {"record.take"}
}

test_scope_without_action_is_the_whole_catalog if {
	actions := scope.actions with input as {"subject": t.clerk, "resource": t.sole_case}
	actions == {a | some a, _ in catalog.actions}
}

# ListAllowedActions in parts (the sidecar names each part's actions): a part decides the catalog
# actions it names and, for a catch-all it names, the act the catch-all is answered as (十九(5)).
test_scope_of_a_listing_part_is_its_named_actions_and_their_catch_all_acts if {
	named := {"subject": t.clerk, "resource": t.sole_case, "action": {"names": ["record.take", "not.an_action"]}}
	scope.actions with input as named == {"record.take"}
	catch_all := {
		"subject": t.clerk,
		"resource": t.sole_case,
		"action": {"names": ["task.assigned"]},
		"context": {"assigned_task": "record.take"},
	}
	scope.actions with input as catch_all == {"task.assigned", "record.take"}
}
