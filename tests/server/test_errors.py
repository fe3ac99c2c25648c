"""`engine_guard`: an engine call's failure becomes EngineCallError; a stopping process passes."""

from __future__ import annotations

import pytest

from quanze.server.errors import EngineCallError, EvaluationError, QuanzeError, engine_guard


class PanicLike(BaseException):
    """What regorus raises when it panics: a BaseException, not an Exception."""


@pytest.mark.parametrize(
    "raised",
    [PanicLike("index out of bounds"), ValueError("bad json"), EvaluationError("undefined")],
    ids=["panic", "exception", "quanze-error"],
)
def test_anything_raised_inside_becomes_an_engine_call_error_keeping_its_cause(
    raised: BaseException,
) -> None:
    with pytest.raises(EngineCallError) as caught, engine_guard():
        raise raised
    assert caught.value.cause is raised
    assert caught.value.__cause__ is raised
    assert caught.value.kind == type(raised).__name__
    assert str(caught.value) == str(raised)
    assert isinstance(caught.value, QuanzeError)


def test_an_error_without_a_message_is_named_by_its_type() -> None:
    with pytest.raises(EngineCallError, match=r"^PanicLike$"), engine_guard():
        raise PanicLike()


@pytest.mark.parametrize("stopping", [KeyboardInterrupt, SystemExit, GeneratorExit])
def test_a_stopping_process_passes_through(stopping: type[BaseException]) -> None:
    with pytest.raises(stopping), engine_guard():
        raise stopping()


def test_nested_guards_wrap_once() -> None:
    inner = PanicLike("deep")
    with pytest.raises(EngineCallError) as caught, engine_guard(), engine_guard():
        raise inner
    assert caught.value.cause is inner


def test_nothing_raised_nothing_changed() -> None:
    with engine_guard():
        value = 1 + 1
    assert value == 2
