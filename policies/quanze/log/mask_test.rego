package quanze.log_test

import rego.v1

import data.quanze.log
import data.quanze.testlib as t

# The contract's example: an assistant guided by the sole procurator of C-1001.
example := t.request(t.assistant, "case.interrogate_suspect", t.sole_case, t.guided)

event(request) := {"input": request, "path": "quanze/authz/decision", "rpc": "Check"}

masks(request) := m if {
	m := log.mask with input as event(request)
}

with_context(extra) := object.union(example, {"context": object.union(t.guided, extra)})

with_case_properties(extra) := object.union(example, {"resource": {"properties": extra}})

upsert(path, value) := {"op": "upsert", "path": path, "value": value}

# The attributes the rules read and compliance staff must see are never masked.
test_contract_example_kept_whole if {
	masks(example) == set()
}

test_team_case_with_every_routing_attribute_kept_whole if {
	case := {"type": "case", "id": "C-2002", "properties": object.union(t.team_case.properties, {
		"member_roles": {"p-L1": "procurator"}, "stage": "review_prosecution",
		"assigned_auxiliaries": ["asst-A1"], "subject_of_decision": "p-T2", "grantee": "asst-A1",
		"crime_category": ["duty_crime"], "document_type": "indictment", "task": "draft",
	})}
	context := {
		"acting_as": "procurator", "approved_by": "chief-A", "decision_id": "D-1",
		"joint_meeting": {"held": true, "convened_by": "dh-A1", "procurator_opinion": "prosecute"},
		"chief_entrustment": {"from": "chief-A", "to": "p-L1", "task": "review"},
		"event": {"type": "inquiry", "by": "x-1"}, "report": {"to": "chief-A", "form": "written"},
	}
	masks(t.request(t.dept_head, "opinion.review", case, context)) == set()
}

test_suspect_name_in_case_properties_erased if {
	masks(with_case_properties({"suspect_name": "张三"})) == {"/input/resource/properties/suspect_name"}
}

# The example of the design: context.parties[3].id_number, nested in an array.
test_party_id_number_in_context_array_masked_to_last_four if {
	parties := [{"role": "witness"}, {}, {}, {"role": "victim", "id_number": "110101199001011234"}]
	masks(with_context({"parties": parties})) == {upsert("/input/context/parties/3/id_number", "****1234")}
}

test_subject_properties_name_and_phone_erased if {
	subject := t.person("asst-A1", "procurator_assistant", {"name": "李明", "mobile": "13800000000"})
	masks(t.request(subject, "record.take", t.sole_case, t.guided)) == {
		"/input/subject/properties/name",
		"/input/subject/properties/mobile",
	}
}

test_action_properties_searched_and_action_name_kept if {
	request := object.union(example, {"action": {"properties": {"lawyer_name": "赵律师"}}})
	masks(request) == {"/input/action/properties/lawyer_name"}
}

# Keys are compared in snake_case, whatever their spelling, and by their ending.
test_key_spellings_and_endings_matched if {
	extra := {
		"suspectName": "a", "WITNESS-PHONE": "b", "home address": "c", "DateOfBirth": "d",
		"witnessIDNumber": "110101199001011234", "telephone": "e",
	}
	masks(with_context(extra)) == {
		"/input/context/suspectName", "/input/context/WITNESS-PHONE", "/input/context/home address",
		"/input/context/DateOfBirth", "/input/context/telephone",
		upsert("/input/context/witnessIDNumber", "****1234"),
	}
}

test_chinese_keys_matched_by_ending if {
	masks(with_context({"犯罪嫌疑人姓名": "张三", "身份证号码": "110101199001011234"})) == {
		"/input/context/犯罪嫌疑人姓名",
		upsert("/input/context/身份证号码", "****1234"),
	}
}

test_ordinary_keys_kept if {
	masks(with_context({"note": "x", "case_stage": "review", "priority": 2})) == set()
}

# A key naming a party holds the person's name or number, unless it holds records.
test_party_key_with_name_erased_with_records_searched if {
	extra := {
		"suspect": "张三", "victims": ["李四", "王五"], "witness": [],
		"defendants": [{"name": "赵六", "role": "principal"}], "lawyer": {"firm": "某律所", "phone": "1"},
	}
	masks(with_context(extra)) == {
		"/input/context/suspect", "/input/context/victims", "/input/context/witness",
		"/input/context/defendants/0/name", "/input/context/lawyer/phone",
	}
}

# At most half of a number shows, and only of a string.
test_short_or_non_string_numbers_fully_masked if {
	masks(with_context({"id_number": "E1234567", "passport": "E123456", "bank_account": 6222020200112233})) == {
		upsert("/input/context/id_number", "****4567"),
		upsert("/input/context/passport", "****"),
		upsert("/input/context/bank_account", "****"),
	}
}

# Whatever lies inside an erased or masked member goes with it, and is not listed again.
test_members_inside_erased_or_masked_ones_not_listed if {
	extra := {"contact": {"phone": "1", "id_number": "110101199001011234"}, "id_card": {"name": "x"}}
	masks(with_context(extra)) == {"/input/context/contact", upsert("/input/context/id_card", "****")}
}

# RFC 6901: "~" is written "~0" and "/" is written "~1".
test_pointer_escapes_tilde_and_slash if {
	masks(with_context({"a/b~c": {"name": "x"}})) == {"/input/context/a~1b~0c/name"}
}

# A request that fails validation is logged too: what the schema does not define is searched.
test_members_the_schema_does_not_define_searched if {
	request := object.union(example, {
		"witness": {"name": "x", "age_group": "adult"},
		"subject": {"nickname": "小李"},
		"resource": {"phone": "1"},
	})
	masks(request) == {"/input/witness/name", "/input/subject/nickname", "/input/resource/phone"}
}

test_malformed_parts_searched_whole if {
	request := {"subject": [{"name": "x"}], "action": "case.interrogate_suspect", "resource": "C-1"}
	masks(request) == {"/input/subject/0/name"}
}

test_request_that_is_not_an_object_searched_whole if {
	masks([{"name": "x"}, "y"]) == {"/input/0/name"}
}

test_keys_come_from_data if {
	keys := {"erase": ["case_note"], "mask": ["name"], "parties": []}
	m := masks(with_context({"case_note": "x", "name": "张三李四王五赵六"})) with data.quanze.log.personal_keys as keys
	m == {"/input/context/case_note", upsert("/input/context/name", "****王五赵六")}
}

test_key_listed_to_erase_and_mask_erased if {
	keys := {"erase": ["id_number"], "mask": ["id_number"], "parties": []}
	m := masks(with_context({"id_number": "110101199001011234"})) with data.quanze.log.personal_keys as keys
	m == {"/input/context/id_number"}
}

test_decisions_logged_by_default_not_dropped if {
	not log.drop with input as event(example)
	log.drop == false with input as event(example)
}

test_listed_health_probe_subject_dropped if {
	probe := t.request({"type": "service", "id": "probe-1"}, "case.interrogate_suspect", t.sole_case, {})
	log.drop == true with input as event(probe) with data.quanze.log.drop_subjects as ["probe-1"]
	log.drop == false with input as event(example) with data.quanze.log.drop_subjects as ["probe-1"]
}

# The data is written as matching expects: lower snake_case or Chinese, each key once.
test_listed_keys_written_in_snake_case_or_chinese if {
	keys := [k | some list in data.quanze.log.personal_keys; some k in list]
	every k in keys {
		regex.match(`^(?:[a-z0-9]+(?:_[a-z0-9]+)*|[^\x00-\x7F]+)$`, k)
	}
	count(keys) == count({k | some k in keys})
}

test_data_has_the_three_lists_and_a_number_to_keep if {
	object.keys(data.quanze.log.personal_keys) == {"erase", "mask", "parties"}
	is_number(data.quanze.log.mask_keep_last)
	data.quanze.log.mask_keep_last >= 0
}

# A deployment that breaks the data loses the free-form members, not the people's privacy.
test_without_lists_every_free_form_member_erased if {
	request := object.union(with_context({"note": "x"}), {"witness": {"x": 1}})
	m := masks(request) with data.quanze.log.personal_keys as {"erase": ["name"]}
	m == {
		"/input/context/supervising_procurator", "/input/context/note", "/input/witness",
		"/input/subject/properties/role", "/input/subject/properties/roles",
		"/input/subject/properties/procuratorate", "/input/subject/properties/department",
		"/input/resource/properties/procuratorate", "/input/resource/properties/department",
		"/input/resource/properties/domain", "/input/resource/properties/handling_mode",
		"/input/resource/properties/sole_procurator",
		"/input/resource/properties/within_power_list",
	}
}

test_keeping_no_characters_masks_numbers_whole if {
	m := masks(with_context({"id_number": "110101199001011234"})) with data.quanze.log.mask_keep_last as 0
	m == {upsert("/input/context/id_number", "****")}
}
