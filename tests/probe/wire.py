"""Malformed request bytes: protobuf written by hand, so nothing on our side refuses to send them.

Every family is seeded: the same run sends the same bytes. Each payload carries a name saying
what is wrong with it, for the report.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import math
import random
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from google.protobuf import json_format

from quanze.v1 import decision_service_pb2 as pb
from tests.probe.inputs import ACTIONS, ATTRIBUTES, CASES, ROLES, WRONG_TYPES
from tests.support import CONTRACT_EXAMPLE

EXAMPLE: dict[str, Any] = json.loads(CONTRACT_EXAMPLE)
# The largest request a sidecar takes by default (server.max_request_bytes).
MAX_REQUEST_BYTES = 256 * 1024


@dataclass(frozen=True)
class Payload:
    """Bytes to send to `method`, named for the report; `request` is the JSON it was made from."""

    name: str
    method: str
    data: bytes
    request: Any = None

    @property
    def shown(self) -> Any:
        return self.request if self.request is not None else self.data

    @property
    def family(self) -> str:
        return self.name.split("/")[0]


def varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def field(number: int, payload: bytes) -> bytes:
    """A length-delimited field (wire type 2)."""
    return varint(number << 3 | 2) + varint(len(payload)) + payload


def string_value(text: bytes) -> bytes:
    """A google.protobuf.Value holding a string (field 3), bytes as given (even bad UTF-8)."""
    return field(3, text)


def number_value(number: float) -> bytes:
    """A google.protobuf.Value holding a double (field 2, wire type 1)."""
    return varint(2 << 3 | 1) + struct.pack("<d", number)


def list_value(*values: bytes) -> bytes:
    """A Value holding a ListValue (Value field 6; ListValue field 1 repeated)."""
    return field(6, b"".join(field(1, v) for v in values))


def struct_value(fields: dict[str, bytes]) -> bytes:
    """A Value holding a Struct (Value field 5; Struct field 1, map entries key=1, value=2)."""
    return field(5, struct_fields(fields))


def struct_fields(fields: dict[str, bytes]) -> bytes:
    return b"".join(field(1, field(1, k.encode()) + field(2, v)) for k, v in fields.items())


def deep_list(depth: int) -> bytes:
    value = string_value(b"x")
    for _ in range(depth):
        value = list_value(value)
    return value


def deep_struct(depth: int) -> bytes:
    value = string_value(b"x")
    for _ in range(depth):
        value = struct_value({"a": value})
    return value


def check_bytes(request: dict[str, Any]) -> bytes:
    return json_format.ParseDict(request, pb.CheckRequest()).SerializeToString()


def with_context(request: dict[str, Any], fields: dict[str, bytes]) -> bytes:
    """`request` without its context, then a context Struct (CheckRequest field 4) by hand."""
    rest = {k: v for k, v in request.items() if k != "context"}
    return check_bytes(rest) + field(4, struct_fields(fields))


def typo(word: str, rng: random.Random) -> str:
    i = rng.randrange(len(word))
    how = rng.choice(["drop", "double", "swap", "upper", "space", "zwsp", "cyrillic_a"])
    if how == "drop":
        return word[:i] + word[i + 1 :]
    if how == "double":
        return word[: i + 1] + word[i:]
    if how == "swap" and i + 1 < len(word) and word[i] != word[i + 1]:
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    if how == "upper":
        return word.upper()
    if how == "space":
        return " " + word
    if how == "cyrillic_a" and "a" in word:
        return word.replace("a", "\u0430", 1)
    return word[:i] + "\u200b" + word[i:]


# ------------------------------------------------------------------------------ families


def random_bytes(rng: random.Random) -> Iterator[Payload]:
    for method, count in (("Check", 400), ("CheckBatch", 100), ("ListAllowedActions", 100)):
        for n in range(count):
            size = rng.choice([rng.randint(1, 16), rng.randint(16, 512), rng.randint(512, 8192)])
            yield Payload(f"random_bytes_{n}", method, rng.randbytes(size))


def random_fields(rng: random.Random) -> Iterator[Payload]:
    """Random but well-framed protobuf: fields of every wire type, nested, at random numbers."""

    def message(depth: int) -> bytes:
        out = b""
        for _ in range(rng.randint(0, 6)):
            number = rng.choice([1, 2, 3, 4, 5, 6, rng.randint(7, 2**29 - 1)])
            kind = rng.choice(["varint", "i64", "i32", "len", "nested"])
            if kind == "varint":
                out += varint(number << 3) + varint(rng.getrandbits(64))
            elif kind == "i64":
                out += varint(number << 3 | 1) + rng.randbytes(8)
            elif kind == "i32":
                out += varint(number << 3 | 5) + rng.randbytes(4)
            elif kind == "len" or depth > 6:
                out += field(number, rng.randbytes(rng.randint(0, 40)))
            else:
                out += field(number, message(depth + 1))
        return out

    for method in ("Check", "CheckBatch", "ListAllowedActions"):
        for n in range(60):
            yield Payload(f"random_fields_{n}", method, message(0))


def truncated(rng: random.Random) -> Iterator[Payload]:
    for case in [EXAMPLE, *(c.request for c in rng.sample(CASES, 14))]:
        data = check_bytes(case)
        for cut in sorted(rng.sample(range(1, len(data)), min(40, len(data) - 1))):
            yield Payload(f"truncated_at_{cut}_of_{len(data)}", "Check", data[:cut])


def bit_flips(rng: random.Random) -> Iterator[Payload]:
    data = check_bytes(EXAMPLE)
    for n in range(500):
        changed = bytearray(data)
        at = rng.randrange(len(changed))
        changed[at] ^= 1 << rng.randrange(8)
        yield Payload(f"bit_flip_{n}_at_{at}", "Check", bytes(changed))


def wrong_wire_types() -> Iterator[Payload]:
    example = {k: v for k, v in EXAMPLE.items() if k != "subject"}
    rest = check_bytes(example)
    for name, encoded in (
        ("varint", varint(1 << 3) + varint(7)),
        ("fixed64", varint(1 << 3 | 1) + b"\x00" * 8),
        ("fixed32", varint(1 << 3 | 5) + b"\x00" * 4),
        ("start_group", varint(1 << 3 | 3)),
        ("bad_wire_type_7", varint(1 << 3 | 7) + b"\x00"),
        ("length_past_end", varint(1 << 3 | 2) + varint(1000) + b"abc"),
        ("overlong_varint", varint(1 << 3) + b"\xff" * 11),
        ("subject_id_as_varint", field(1, varint(2 << 3) + varint(5))),
        (
            "struct_entry_value_as_varint",
            field(1, field(3, field(1, field(1, b"role") + b"\x10\x01"))),
        ),
    ):
        yield Payload(f"subject_{name}", "Check", encoded + rest)


def wrong_json_types(rng: random.Random) -> Iterator[Payload]:
    for path, key in rng.sample(ATTRIBUTES, 60):
        request = copy.deepcopy(EXAMPLE)
        node = request
        for part in path:
            node = node.setdefault(part, {})
        node[key] = rng.choice(WRONG_TYPES[:-1])
        yield Payload(
            f"wrong_type_{'.'.join((*path, key))}", "Check", check_bytes(request), request
        )


def deep_nesting() -> Iterator[Payload]:
    contexts = {
        **{
            f"extensions_list_depth_{d}": {"extensions": struct_value({"deep": deep_list(d)})}
            for d in (40, 64, 100, 1000, 5000)
        },
        **{
            f"joint_meeting_list_depth_{d}": {"joint_meeting": deep_list(d)}
            for d in (40, 64, 100, 1000, 5000)
        },
        **{f"extensions_struct_depth_{d}": {"extensions": deep_struct(d)} for d in (34, 50, 500)},
    }
    for name, fields in contexts.items():
        yield Payload(name, "Check", with_context(EXAMPLE, fields))
    deep = struct_fields({"extensions": deep_list(1000)})
    yield Payload("list_context_depth_1000", "ListAllowedActions", list_bytes() + field(3, deep))
    yield Payload("batch_defaults_context_depth_1000", "CheckBatch", batch_bytes() + field(4, deep))


def non_finite_numbers() -> Iterator[Payload]:
    for number in (math.nan, math.inf, -math.inf):
        contexts = {
            "context_circumstance": {"circumstance": number_value(number)},
            "context_extensions": {"extensions": struct_value({"n": number_value(number)})},
            "context_extensions_list": {
                "extensions": struct_value({"l": list_value(number_value(number))})
            },
            "context_senior_stage": {"senior_stage": number_value(number)},
        }
        for name, fields in contexts.items():
            yield Payload(f"{name}_{number!r}", "Check", with_context(EXAMPLE, fields))
        extensions = struct_fields({"extensions": struct_value({"n": number_value(number)})})
        yield Payload(
            f"list_context_extensions_{number!r}",
            "ListAllowedActions",
            list_bytes() + field(3, extensions),
        )
        circumstance = struct_fields({"circumstance": number_value(number)})
        yield Payload(
            f"batch_defaults_context_{number!r}",
            "CheckBatch",
            batch_bytes() + field(4, circumstance),
        )


def list_bytes() -> bytes:
    """The example's subject and resource as a ListAllowedActions request, no context."""
    listing = {k: v for k, v in EXAMPLE.items() if k in ("subject", "resource")}
    return json_format.ParseDict(listing, pb.ListAllowedActionsRequest()).SerializeToString()


def batch_bytes() -> bytes:
    """A CheckBatch of the example as defaults (no context) and one empty item."""
    batch = {k: v for k, v in EXAMPLE.items() if k != "context"} | {"evaluations": [{}]}
    return json_format.ParseDict(batch, pb.CheckBatchRequest()).SerializeToString()


def huge(rng: random.Random) -> Iterator[Payload]:
    def changed(name: str, change: Any) -> Payload:
        request = copy.deepcopy(EXAMPLE)
        change(request)
        return Payload(name, "Check", check_bytes(request), request)

    yield changed("subject_id_257_chars", lambda r: r["subject"].update(id="x" * 257))
    yield changed("subject_id_100k_chars", lambda r: r["subject"].update(id="x" * 100_000))
    yield changed(
        "roles_33", lambda r: r["subject"]["properties"].update(roles=["procurator"] * 33)
    )
    yield changed(
        "roles_40000", lambda r: r["subject"]["properties"].update(roles=["procurator"] * 40_000)
    )
    yield changed(
        "extensions_65_fields",
        lambda r: r["context"].update(extensions={f"k{i}": i for i in range(65)}),
    )
    yield changed(
        "extensions_string_4097", lambda r: r["context"].update(extensions={"s": "x" * 4097})
    )
    yield changed(
        "extensions_array_257", lambda r: r["context"].update(extensions={"a": [1] * 257})
    )
    yield changed("assigned_task_2049", lambda r: r["context"].update(assigned_task="x" * 2049))
    yield changed(
        "case_scope_1001",
        lambda r: r["resource"]["properties"].update(case_scope=["C-1"] * 1001),
    )
    yield changed(
        "over_max_request_bytes",
        lambda r: r["context"].update(extensions={f"k{i}": "x" * 4096 for i in range(64)}),
    )
    big = check_bytes(EXAMPLE) + field(99, rng.randbytes(4 * MAX_REQUEST_BYTES + 1))
    yield Payload("over_4x_max_request_bytes_unknown_field", "Check", big)
    items = {"evaluations": [{"action": {"name": "record.take"}}] * 101}
    batch = json_format.ParseDict(items | EXAMPLE, pb.CheckBatchRequest()).SerializeToString()
    yield Payload("batch_101_items", "CheckBatch", batch, items | EXAMPLE)
    items = {"evaluations": [{"action": {"name": "record.take"}}] * 5000}
    batch = json_format.ParseDict(items | EXAMPLE, pb.CheckBatchRequest()).SerializeToString()
    yield Payload("batch_5000_items", "CheckBatch", batch, {"evaluations": "5000 items"})


def unknown_names(rng: random.Random) -> Iterator[Payload]:
    odd = ["", " ", "case.*", "../case.assign", "case.assign\x00", "CASE.ASSIGN", "case.assign "]
    names = odd + [typo(a, rng) for a in rng.sample(ACTIONS, 30)]
    for name in names:
        if name in ACTIONS:
            continue
        request = copy.deepcopy(EXAMPLE)
        request["action"]["name"] = name
        yield Payload(f"unknown_action_{name!r}", "Check", check_bytes(request), request)
    for role in [typo(r, rng) for r in rng.sample(ROLES, 15)] + ["", "admin", "root"]:
        if role in ROLES:
            continue
        for field_name, value in (("role", role), ("roles", ["procurator_assistant", role])):
            request = copy.deepcopy(EXAMPLE)
            request["subject"]["properties"][field_name] = value
            yield Payload(
                f"unknown_role_{field_name}_{role!r}", "Check", check_bytes(request), request
            )
    request = copy.deepcopy(EXAMPLE)
    request["resource"]["type"] = "cases"
    yield Payload("unknown_resource_type", "Check", check_bytes(request), request)
    batch = {"evaluations": [{"action": {"name": typo(a, rng)}} for a in rng.sample(ACTIONS, 5)]}
    data = json_format.ParseDict(batch | EXAMPLE, pb.CheckBatchRequest()).SerializeToString()
    yield Payload("batch_unknown_actions", "CheckBatch", data, batch | EXAMPLE)
    semantic = {"options": {"evaluations_semantic": "permit_all"}, "evaluations": [{}]}
    data = json_format.ParseDict(semantic | EXAMPLE, pb.CheckBatchRequest()).SerializeToString()
    yield Payload("batch_unknown_semantic", "CheckBatch", data, semantic | EXAMPLE)


def misspelt_attributes(rng: random.Random) -> Iterator[Payload]:
    for path, key in rng.sample(ATTRIBUTES, 80):
        misspelt = typo(key, rng)
        if misspelt == key:
            continue
        request = copy.deepcopy(EXAMPLE)
        node = request
        for part in path:
            node = node.setdefault(part, {})
        node[misspelt] = True
        yield Payload(
            f"misspelt_{'.'.join((*path, misspelt))!r}", "Check", check_bytes(request), request
        )
    listing = {k: copy.deepcopy(v) for k, v in EXAMPLE.items() if k != "action"}
    listing["context"]["supervising_procurater"] = "p-A1"
    data = json_format.ParseDict(listing, pb.ListAllowedActionsRequest()).SerializeToString()
    yield Payload("list_misspelt_context_attribute", "ListAllowedActions", data, listing)


def bad_strings() -> Iterator[Payload]:
    """Invalid UTF-8 where protobuf wants a string, and required fields missing."""
    rest = check_bytes({k: v for k, v in EXAMPLE.items() if k != "subject"})
    for name, raw in (
        ("lone_continuation", b"\x80"),
        ("overlong_slash", b"\xc0\xaf"),
        ("surrogate", b"\xed\xa0\x80"),
        ("truncated_sequence", b"asst-\xe6\x9c"),
        ("invalid_byte", b"\xff\xfe"),
    ):
        yield Payload(f"subject_id_utf8_{name}", "Check", field(1, field(2, raw)) + rest)
        yield Payload(
            f"struct_key_utf8_{name}",
            "Check",
            check_bytes(EXAMPLE) + field(4, field(1, field(1, raw) + field(2, string_value(b"x")))),
        )
    for missing in ("subject", "action", "resource"):
        request = {k: v for k, v in EXAMPLE.items() if k != missing}
        yield Payload(f"missing_{missing}", "Check", check_bytes(request), request)
    for part, name in (("subject", "id"), ("action", "name"), ("resource", "type")):
        request = copy.deepcopy(EXAMPLE)
        request[part][name] = ""
        yield Payload(f"empty_{part}_{name}", "Check", check_bytes(request), request)
    yield Payload("empty_message", "Check", b"")
    yield Payload("empty_list_request", "ListAllowedActions", b"")
    batch_to_check = json_format.ParseDict(
        {"evaluations": [EXAMPLE]}, pb.CheckBatchRequest()
    ).SerializeToString()
    yield Payload("a_batch_sent_to_check", "Check", batch_to_check)


def unknown_fields(rng: random.Random) -> Iterator[Payload]:
    """A valid request with fields the proto does not define: ignored, answered as without."""
    for _ in range(5):
        number = rng.randint(20, 2**29 - 1)
        data = check_bytes(EXAMPLE) + field(number, rng.randbytes(rng.randint(0, 64)))
        yield Payload(f"unknown_field_{number}", "Check", data)


def every_payload(seed: int) -> list[Payload]:
    """Every family's payloads, each named `family/name`; the same `seed`, the same bytes."""
    rng = random.Random(seed)
    families = {
        "random_bytes": random_bytes(rng),
        "random_fields": random_fields(rng),
        "truncated": truncated(rng),
        "bit_flips": bit_flips(rng),
        "wrong_wire_types": wrong_wire_types(),
        "wrong_json_types": wrong_json_types(rng),
        "deep_nesting": deep_nesting(),
        "non_finite_numbers": non_finite_numbers(),
        "huge": huge(rng),
        "unknown_names": unknown_names(rng),
        "misspelt_attributes": misspelt_attributes(rng),
        "bad_strings": bad_strings(),
        "unknown_fields": unknown_fields(rng),
    }
    return [
        dataclasses.replace(payload, name=f"{family}/{payload.name}")
        for family, payloads in families.items()
        for payload in payloads
    ]
