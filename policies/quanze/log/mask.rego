# METADATA
# title: What the decision log keeps of a request
# description: |
#   Not an authorization rule: before a decision is logged, the masker
#   evaluates this package on the event {"input": <request>, "path": ...,
#   "rpc": ...}, so that personal data of suspects, defendants, witnesses,
#   victims, lawyers and other parties never reaches disk.
#   `mask` holds JSON Pointers (RFC 6901) into the event: a string erases
#   that member; {"op": "upsert", "path": ..., "value": ...} replaces it.
#   `drop` true logs only a stub: id, time, caller, revision; no input or answer.
#   Only free-form members are searched, at any depth: subject.properties,
#   action.properties, resource.properties, context, and members the input
#   schema does not define (a request that fails validation is logged too).
#   Which keys are personal is data (data.quanze.log.personal_keys); no key
#   the schema defines may match one, so the attributes the rules and the
#   compliance staff read (subject.id, roles, procuratorate, sole_procurator
#   ...) are always kept. The masker runs this on the tree-walking Engine
#   (the RVM has no `walk`) for every decision, so the request is first
#   searched as text: one without personal keys is never walked.
package quanze.log

import rego.v1

# METADATA
# description: |
#   Every decision is logged unless a deployment lists its subject in
#   data.quanze.log.drop_subjects, e.g. the identity its health probes use.
#   A dropped decision keeps only a stub in the audit trail: list only
#   subjects whose decisions nobody has to account for.
default drop := false

drop if input.input.subject.id in data.quanze.log.drop_subjects

mask contains pointer if {
	some found in _found
	found.how == "erase"
	not _inside_found(found.path)
	pointer := _pointer(found)
}

# METADATA
# description: |
#   Numbers of identity documents, licences and accounts are replaced rather
#   than erased: "****" and their last characters, so that two records of
#   one person can be told apart without the number reaching disk.
mask contains {"op": "upsert", "path": pointer, "value": value} if {
	some found in _found
	found.how == "mask"
	not _inside_found(found.path)
	pointer := _pointer(found)
	value := _masked(found.value)
}

# Without its lists of keys the policy cannot tell personal data from anything else, so every
# free-form member goes.
mask contains pointer if {
	not _lists_complete
	some root in _roots
	is_object(root.value)
	some key, _ in root.value
	pointer := _pointer({"root": root.pointer, "sub": [key]})
}

_lists_complete if {
	is_array(_keys.erase)
	is_array(_keys.mask)
	is_array(_keys.parties)
}

# Every free-form member with a personal key: where it is and what to do with it.
_found contains {"root": root.pointer, "sub": sub, "path": path, "how": how, "value": value} if {
	count(_personal) > 0
	some root in _roots
	walk(root.value, [sub, value])
	key := sub[count(sub) - 1]
	lists := object.get(_personal, key, null)
	is_object(lists)
	how := _how(lists, value)
	path := array.concat(root.path, sub)
}

# --------------------------------------------------------------------- which keys

_keys := data.quanze.log.personal_keys

# Keys are compared in lower snake_case: suspectName, Suspect-Name and SUSPECT_NAME are all
# suspect_name, and IDCardNo is id_card_no. A key matches every listed key it ends with.
# The whole request is put in snake_case at once, as text: split at `":`, each piece of it
# ends with a key. The action's own name is an attribute, not a person's.
_json := json.marshal(_unnamed)

_unnamed := json.remove(_object, ["action/name"])

_unnamed := _request if not is_object(_request)

_pieces := split(snake, `":`) if {
	split_words := regex.replace(_json, `([a-z0-9])([A-Z])|([A-Z])([A-Z][a-z])`, "${1}${3}_${2}${4}")
	lowered := lower(split_words)
	snake := strings.replace_n({"-": "_", " ": "_"}, lowered)
}

# Settles the common case, a request without personal data, in three tests of all its keys.
_any_personal_key if {
	some keys in _keys
	strings.any_suffix_match(_pieces, keys)
}

_listed := array.concat(array.concat(_list("erase"), _list("mask")), _list("parties"))

_list(name) := object.get(_keys, name, [])

# The request's keys that match, as they are written, and which lists they match. Putting a
# key in snake_case neither makes nor breaks a `":`, so the pieces of the serialised request
# and of its snake_case line up. In JSON text a quote inside a string is escaped, so a key
# starts after the last `{"` or `,"` of its piece. The pieces are tested eight at a time
# first: a test costs about as much for eight as for one.
_personal := {key: lists |
	_any_personal_key
	raw_pieces := split(_json, `":`)
	some start in numbers.range_step(0, count(_pieces) - 1, 8)
	eight := array.slice(_pieces, start, start + 8)
	strings.any_suffix_match(eight, _listed)
	some j, piece in eight
	strings.any_suffix_match(piece, _listed)
	i := start + j
	marked := replace(raw_pieces[i], `{"`, `,"`)
	parts := split(marked, `,"`)
	key := json.unmarshal(concat("", [`"`, parts[count(parts) - 1], `"`]))
	lists := {
		"erase": strings.any_suffix_match(piece, _keys.erase),
		"mask": strings.any_suffix_match(piece, _keys.mask),
		"parties": strings.any_suffix_match(piece, _keys.parties),
	}
}

# Erasing wins over masking.
_how(lists, _) := "erase" if lists.erase

# Under a key naming a party, anything but a record is the person's name or number.
_how(lists, value) := "erase" if {
	not lists.erase
	_erased_party(lists, value)
}

_how(lists, value) := "mask" if {
	not lists.erase
	not _erased_party(lists, value)
	lists.mask
}

_erased_party(lists, value) if {
	lists.parties
	not _record(value)
}

_record(value) if is_object(value)

_record(value) if {
	is_array(value)
	count(value) > 0
	every element in value {
		is_object(element)
	}
}

# --------------------------------------------------------------------- where to look

_request := input.input

_object := _request if is_object(_request)

# Values whose members, at any depth, are all free-form.
_roots contains {"path": ["context"], "pointer": "/input/context", "value": value} if {
	value := object.get(_object, "context", null)
}

_roots contains {"path": [part, "properties"], "pointer": pointer, "value": value} if {
	some part, holder in _object
	_members[part]
	is_object(holder)
	value := object.get(holder, "properties", null)
	pointer := concat("", ["/input/", part, "/properties"])
}

# What the schema does not define: at the top level, and in subject, action and resource.
_roots contains {"path": [], "pointer": "/input", "value": value} if {
	value := object.remove(_object, ["subject", "action", "resource", "context"])
}

_roots contains {"path": [part], "pointer": pointer, "value": value} if {
	some part, holder in _object
	known := _members[part]
	value := _unknown_members(holder, known)
	pointer := concat("", ["/input/", part])
}

# A request that is not even an object is searched whole.
_roots contains {"path": [], "pointer": "/input", "value": _request} if not is_object(_request)

_members := {
	"subject": ["type", "id", "properties"],
	"action": ["name", "properties"],
	"resource": ["type", "id", "properties"],
}

_unknown_members(holder, known) := object.remove(holder, known) if is_object(holder)

# A subject, action or resource that is not an object is not what the schema defines at all.
_unknown_members(holder, _) := holder if not is_object(holder)

# --------------------------------------------------------------------- pointers and values

# A member inside one already erased or masked goes with it; listing it too would make the
# masker write into a value it has replaced. Only objects and arrays have members inside.
_inside_found(path) if {
	some outer in _found_containers
	n := count(outer)
	n < count(path)
	array.slice(path, 0, n) == outer
}

_found_containers contains found.path if {
	some found in _found
	is_object(found.value)
}

_found_containers contains found.path if {
	some found in _found
	is_array(found.value)
}

# RFC 6901: steps are joined by "/", and in each "~" is written "~0" and "/" is "~1".
_pointer(found) := concat("/", array.concat([found.root], steps)) if {
	steps := [step |
		some p in found.sub
		text := sprintf("%v", [p])
		tilde := replace(text, "~", "~0")
		step := replace(tilde, "/", "~1")
	]
}

# Unset, nothing of a number shows.
default _keep := 0

_keep := data.quanze.log.mask_keep_last

# Keeps the last characters only of a string at least twice as long, so at most half shows.
_masked(value) := concat("", ["****", tail]) if {
	_long_string(value)
	n := count(value)
	tail := substring(value, n - _keep, _keep)
}

_masked(value) := "****" if not _long_string(value)

_long_string(value) if {
	is_string(value)
	count(value) >= 2 * _keep
}
