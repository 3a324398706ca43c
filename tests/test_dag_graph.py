"""kit's read of a function's signature, which orders a node's dependencies and finds Collect."""

from __future__ import annotations

import functools
import inspect
import textwrap

import pytest

from kit.dag import graph


def _plain(a, /, b, *rest, c, d=1, **more): ...


def _keyword_only(*, a, b): ...


def _no_parameters(): ...


@functools.wraps(_keyword_only)
def _wrapper(*args, **kwargs): ...


def _with_signature(x, y): ...


_with_signature.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
    [inspect.Parameter("z", inspect.Parameter.POSITIONAL_OR_KEYWORD)]
)


class _Callable:
    def __call__(self, p, q): ...


@pytest.mark.parametrize(
    "fn",
    [
        _plain,
        _keyword_only,
        _no_parameters,
        _wrapper,
        _with_signature,
        _Callable(),
        functools.partial(_plain, 1),
        lambda first, second=2: None,
    ],
)
def test_parameters_are_the_signatures_in_its_order(fn) -> None:
    assert graph._parameters(fn) == list(inspect.signature(fn).parameters)


def test_parameters_of_nothing_is_empty() -> None:
    assert graph._parameters(None) == []


def _module(source: str, *, postponed: bool) -> dict:
    future = "from __future__ import annotations\n" if postponed else ""
    namespace: dict = {}
    exec(future + textwrap.dedent(source), namespace)
    return namespace


@pytest.mark.parametrize("postponed", [False, True])
def test_collect_is_found_written_or_postponed(postponed: bool) -> None:
    namespace = _module(
        """
        from hamilton.htypes import Collect, Parallelizable
        Gathered = Collect

        def gathered(item: Collect[int]) -> int: ...
        def aliased(item: Gathered[int]) -> int: ...
        def plain(item: int, items: list[int]) -> Parallelizable[int]: ...
        """,
        postponed=postponed,
    )
    assert graph._collects(namespace["gathered"])
    assert graph._collects(namespace["aliased"])
    assert not graph._collects(namespace["plain"])
