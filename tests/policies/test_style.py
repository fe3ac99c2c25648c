"""The policies' lines stay within Regal's default line length.

Regal's `line-length` rule allows 120 characters by default, counted as Rego's `count()` counts
a string: in Unicode code points, so a tab, a Chinese character and an ASCII letter are one each
(not in bytes: a Chinese character is three bytes in UTF-8). Every line of every `.rego` file
under `policies/`, the `*_test.rego` files included, must stay within it.

One exception, for a message that cannot be broken without changing the rule (Rego has no
string concatenation operator): a line whose only content is one string literal, optionally
preceded by an object key and its colon (`"key": `) and optionally followed by a comma or a
colon. Such a line may be longer than 120 characters; anything else on the line (an operator, a
call, a second literal, a comment) and it may not.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
POLICIES = ROOT / "policies"
MAX_LINE_LENGTH = 120  # Regal's default `max-line-length`

_STRING = r'(?:"(?:[^"\\]|\\.)*"|`[^`]*`)'
_LONE_STRING = re.compile(rf"^\s*(?:{_STRING}\s*:\s*)?{_STRING}\s*[,:]?\s*$")


def lone_string_literal(line: str) -> bool:
    """Whether the line holds nothing but one string literal (see the module's docstring)."""
    return _LONE_STRING.match(line) is not None


def too_long(path: Path) -> list[str]:
    """`file:line (N characters)` for each line of `path` over the limit, exception aside."""
    offenders = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if len(line) > MAX_LINE_LENGTH and not lone_string_literal(line):
            offenders.append(f"{path.relative_to(ROOT)}:{number} ({len(line)} characters)")
    return offenders


def test_every_rego_line_is_within_regal_line_length() -> None:
    files = sorted(POLICIES.rglob("*.rego"))
    assert len(files) >= 30, f"expected the policies' .rego files under {POLICIES}"
    offenders = [offender for path in files for offender in too_long(path)]
    assert offenders == [], (
        f"{len(offenders)} line(s) longer than {MAX_LINE_LENGTH} characters:\n"
        + "\n".join(offenders)
    )


@pytest.mark.parametrize(
    ("line", "exempt"),
    [
        ('\t\t"' + "x" * 130 + '",', True),
        ('\t\t"' + "x" * 130 + '"', True),
        ('\t"detail_en": "' + "x" * 130 + '",', True),
        ('\t"' + "x" * 130 + '": {', False),
        ('\t"' + "x" * 130 + '":', True),
        ('\t"say \\"' + "x" * 130 + '\\" twice",', True),
        ("\t`" + "x" * 130 + "`,", True),
        ('\tmsg := "' + "x" * 130 + '"', False),
        ('\t"' + "x" * 60 + '", "' + "y" * 60 + '",', False),
        ('\t"' + "x" * 130 + '" == input.message', False),
        ('\tsprintf("' + "x" * 130 + '", [a]),', False),
        ('\t"' + "x" * 130 + '", # a comment', False),
        ("\t# " + "x" * 130, False),
    ],
)
def test_only_a_lone_string_literal_is_exempt(line: str, exempt: bool) -> None:
    assert lone_string_literal(line) is exempt
