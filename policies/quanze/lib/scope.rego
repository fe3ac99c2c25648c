# METADATA
# title: Decision scope
# description: |
#   The actions one evaluation decides. Check sends an action, so only that
#   action is decided; ListAllowedActions sends none, so every action of the
#   catalog is decided in the same evaluation, by the same rules.
package quanze.lib.scope

import rego.v1

import data.quanze.catalog

actions := {input.action.name} if input.action.name

actions := {name | some name, _ in catalog.actions} if not input.action.name
