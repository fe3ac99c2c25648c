# METADATA
# title: Decision scope
# description: |
#   The actions one evaluation decides. Check sends an action, so only that
#   action is decided; ListAllowedActions sends none, so every action of the
#   catalog is decided, by the same rules. The sidecar may decide the catalog in
#   parts, naming each part's actions in `input.action.names` (one evaluation of
#   the whole catalog exceeds the compiled RVM's instruction budget); requests
#   cannot name them, since the input schema allows only `action.name`.
package quanze.lib.scope

import rego.v1

actions := {input.action.name} | _redirected if input.action.name

actions := _listed | _listed_redirected if not input.action.name

_listed := {name | some name, _ in data.quanze.catalog.actions} if not input.action.names

_listed := {name | some name in input.action.names; data.quanze.catalog.actions[name]} if {
	input.action.names
}

# A part that lists a catch-all also decides the act the catch-all is answered as.
_listed_redirected := {catalogued_task | some name in _listed; redirects(name)}

# METADATA
# description: |
#   十七(7), 十八(5), 十九(5), A17: a catch-all task that names an act of the catalog
#   (context.assigned_task) is decided as that act, which is then in scope too: catch-alls
#   are allow-lists of what no other item covers, never a way around an act's conditions.
#   "" when the task names no such act.
default catalogued_task := ""

catalogued_task := data.quanze.lib.tasks.catalogued(input.context.assigned_task)

# The catch-alls that redirect, with the roles whose list has them and which of the act's
# catalog articles is theirs: 十七(7) assistants, 十九(5) clerks, 十八(5) technical staff. Anyone
# else asking for one is simply not granted it.
catch_alls := {
	"task.assigned": {"procurator_assistant": 0, "clerk": 1},
	"technical.assist": {"technical_staff": 0},
}

# METADATA
# description: Whether the acting role's catch-all `act` is answered as its catalogued task.
redirects(act) if {
	_ = catch_alls[act][input.subject.properties.role]
	catalogued_task != ""
}

_redirected := {catalogued_task | redirects(input.action.name)}
