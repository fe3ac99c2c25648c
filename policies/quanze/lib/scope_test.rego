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
