"""A read-only view of a Hamilton graph: node facts, edges, upstream sets, missing inputs."""

from __future__ import annotations

import contextlib
import difflib
import inspect
import linecache
import threading
import types
import typing
import weakref
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from kit.errors import (
    GraphError,
    InputTypeError,
    MissingInputsError,
    PerItemNodeError,
    UnknownNodeError,
)

if TYPE_CHECKING:
    from hamilton.graph_types import HamiltonNode
    from hamilton.node import Node


@dataclass(frozen=True)
class NodeInfo:
    """What kit knows of one node of the DAG."""

    name: str
    type: str
    module: str | None
    function: str | None
    doc: str
    tags: Mapping[str, Any]
    is_input: bool
    dependencies: tuple[str, ...]
    optional: frozenset[str] = field(default_factory=frozenset)
    defaults: Mapping[str, Any] = field(default_factory=dict)
    python_type: Any = None
    expands: bool = False  # returns Parallelizable[...]: what follows runs once per item
    collects: bool = False  # takes a Collect[...]: gathers what a Parallelizable expanded
    checks: str | None = None  # a @check_output validator: the node whose value it checks
    saves: bool = False  # a @save_to saver node
    # where the function is and Hamilton's code version, read from its source when first asked
    # (as Hamilton's own `HamiltonNode.version` is): running outputs never reads them
    _source: _Source | None = field(default=None, repr=False)

    @property
    def source_file(self) -> str | None:
        return self._source.facts().source_file if self._source is not None else None

    @property
    def source_line(self) -> int | None:
        return self._source.facts().source_line if self._source is not None else None

    @property
    def version(self) -> str | None:
        """Hamilton's code version: a hash of the function's source."""
        return self._source.facts().version if self._source is not None else None


def type_name(annotation: Any) -> str:
    """A short, readable name for a type annotation (`pd.DataFrame` -> 'DataFrame')."""
    if annotation is None or annotation is type(None):
        return "None"
    if isinstance(annotation, type) and not typing.get_args(annotation):
        return annotation.__name__
    text = repr(annotation).replace("typing.", "")
    for prefix in ("pandas.core.frame.", "pandas.core.series.", "numpy."):
        text = text.replace(prefix, "")
    return text


def _source_location(fn: Any) -> tuple[str | None, int | None]:
    try:
        return inspect.getsourcefile(fn), inspect.getsourcelines(fn)[1]
    except (OSError, TypeError):
        return None, None


def _parameters(fn: Any) -> list[str]:
    """`fn`'s parameter names in signature order; read off its code when nothing (a wrapper, a
    `__signature__`) makes `inspect.signature` answer otherwise (25x quicker)."""
    if fn is None:
        return []
    if (
        type(fn) is types.FunctionType
        and getattr(fn, "__wrapped__", None) is None
        and getattr(fn, "__signature__", None) is None
    ):
        code = fn.__code__
        names, count = code.co_varnames, code.co_argcount
        keyword_only = list(names[count : count + code.co_kwonlyargcount])
        rest = iter(names[count + code.co_kwonlyargcount :])
        star = [next(rest)] if code.co_flags & inspect.CO_VARARGS else []
        star_star = [next(rest)] if code.co_flags & inspect.CO_VARKEYWORDS else []
        return [*names[:count], *star, *keyword_only, *star_star]
    try:
        return list(inspect.signature(fn).parameters)
    except (TypeError, ValueError):
        return []


def _in_signature_order(
    names: set[str], parameters: list[str], order: Mapping[str, int]
) -> list[str]:
    """Dependencies as the function lists its parameters; the rest (renamed by a decorator) in
    graph order. Hamilton gives them as a set, whose order would change from process to process."""
    position = {name: index for index, name in enumerate(parameters)}
    return sorted(names, key=lambda d: (position.get(d, len(position)), order.get(d, -1), d))


def _collects(fn: Any) -> bool:
    """True when a parameter of `fn` is annotated Collect[...]."""
    from hamilton import htypes

    hints = getattr(fn, "__annotations__", None) or {}
    if any(isinstance(hint, str) for hint in hints.values()):  # postponed: resolve them
        # an annotation that does not resolve stays as written (Hamilton reads it so)
        with contextlib.suppress(Exception):
            hints = typing.get_type_hints(fn)
    return any(typing.get_origin(hint) is htypes.Collect for hint in hints.values())


@dataclass(frozen=True)
class _SourceFacts:
    """What reading a function's source tells, for the nodes it computes."""

    code: Any  # valid while the function has this code ...
    lines: Any  # ... and Python's cached source lines of its file are this very list
    source_file: str | None
    source_line: int | None
    version: str | None  # Hamilton's code version (the same for every node of the function)


@dataclass(frozen=True)
class _Signature:
    """What a function's signature tells: its parameters in order, whether one collects."""

    code: Any  # valid while the function has this code and these annotations
    annotations: Any
    parameters: list[str]
    collects: bool


# function -> its source facts and signature: reading the source (Hamilton's code version
# tokenizes and parses it) and the signature are most of the cost of a graph, so a graph after a
# re-run cell reads only that cell's functions
_SOURCE_FACTS: weakref.WeakKeyDictionary[Any, _SourceFacts] = weakref.WeakKeyDictionary()
_SIGNATURES: weakref.WeakKeyDictionary[Any, _Signature] = weakref.WeakKeyDictionary()


def _cached_lines(fn: Any) -> Any:
    """The source lines Python holds for `fn`'s file now (what `inspect.getsource` reads)."""
    filename = getattr(getattr(fn, "__code__", None), "co_filename", None)
    if filename is None:
        return None
    linecache.checkcache(filename)  # a file changed on disk is read again, as inspect does
    entry = linecache.cache.get(filename)
    return entry[2] if entry is not None and len(entry) > 2 else None


def _known(cache: weakref.WeakKeyDictionary[Any, Any], fn: Any) -> Any:
    try:
        return cache.get(fn)
    except TypeError:  # not weakly referable: read each time
        return None


def _keep(cache: weakref.WeakKeyDictionary[Any, Any], fn: Any, value: Any) -> None:
    with contextlib.suppress(TypeError):  # not weakly referable: not kept
        cache[fn] = value


def _source_facts(fn: Any, n: HamiltonNode) -> _SourceFacts:
    """`fn`'s location and version, read again only when its code or its file's source changed;
    `n` is a node whose first originating function is `fn` (its version is Hamilton's)."""
    code, lines = getattr(fn, "__code__", None), _cached_lines(fn)
    known = _known(_SOURCE_FACTS, fn)
    if known is not None and lines is not None and known.code is code and known.lines is lines:
        return known
    source_file, source_line = _source_location(fn)
    version = n.version
    lines = _cached_lines(fn)  # reading the source put it in the cache
    facts = _SourceFacts(code, lines, source_file, source_line, version)
    if code is not None and lines is not None:
        _keep(_SOURCE_FACTS, fn, facts)
    return facts


def _signature(fn: Any) -> _Signature:
    code, annotations = getattr(fn, "__code__", None), getattr(fn, "__annotations__", None)
    known = _known(_SIGNATURES, fn)
    if known is not None and known.code is code and known.annotations is annotations:
        return known
    signature = _Signature(code, annotations, _parameters(fn), _collects(fn))
    if code is not None:
        _keep(_SIGNATURES, fn, signature)
    return signature


class _Source:
    """A node's source facts, read on first use."""

    __slots__ = ("_facts", "_fn", "_lock", "_node")

    def __init__(self, fn: Any, node: HamiltonNode) -> None:
        self._fn, self._node = fn, node
        self._facts: _SourceFacts | None = None
        self._lock = threading.Lock()

    def facts(self) -> _SourceFacts:
        with self._lock:
            if self._facts is None:
                self._facts = _source_facts(self._fn, self._node)
                self._fn = self._node = None
            return self._facts

    def _key(self) -> tuple[Any, ...]:
        facts = self.facts()
        return (facts.source_file, facts.source_line, facts.version)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Source) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())


_From = typing.TypeVar("_From")
_To = typing.TypeVar("_To")


class _ReadOnFirstUse(Mapping[str, _To]):
    """Name -> what `read` makes of `source[name]`, made when first asked for.

    Executing one output reads only its upstream; a re-run cell in a large workspace then does
    not pay for every other node's signature and source facts.
    """

    def __init__(self, source: Mapping[str, _From], read: Callable[[_From], _To]) -> None:
        self._source = source
        self._read = read
        self._done: dict[str, _To] = {}

    def __getitem__(self, name: str) -> _To:
        try:
            return self._done[name]
        except KeyError:
            made = self._done[name] = self._read(self._source[name])
            return made

    def __iter__(self) -> Iterator[str]:
        return iter(self._source)

    def __len__(self) -> int:
        return len(self._source)

    def __contains__(self, name: object) -> bool:
        return name in self._source


class DagGraph:
    """Nodes and edges of one built Hamilton graph, with the module each node came from."""

    def __init__(self, nodes: Sequence[Node], module_names: Mapping[str, str]) -> None:
        """`nodes` as `FunctionGraph.get_nodes()` gives them; `module_names` maps a module's
        `__name__` to its workspace name."""
        from hamilton.graph_types import HamiltonNode

        by_name = {n.name: n for n in nodes}
        order = {name: position for position, name in enumerate(by_name)}
        self._hamilton_nodes: Mapping[str, HamiltonNode] = _ReadOnFirstUse(
            by_name, HamiltonNode.from_node
        )
        self.nodes: Mapping[str, NodeInfo] = _ReadOnFirstUse(
            self._hamilton_nodes, lambda n: self._info(n, module_names, order)
        )
        self.consumers: dict[str, list[str]] = {name: [] for name in by_name}
        for n in by_name.values():
            for dependency in n.input_types:
                self.consumers.setdefault(dependency, []).append(n.name)

    @staticmethod
    def _info(
        n: HamiltonNode, module_names: Mapping[str, str], order: Mapping[str, int]
    ) -> NodeInfo:
        from hamilton import htypes

        functions = n.originating_functions or ()
        fn = functions[0] if functions else None  # the code that computes the node
        call = functions[-1] if functions else None  # the decorated function whose call made it
        is_input = n.is_external_input
        module = (
            None if is_input or call is None else module_names.get(call.__module__, call.__module__)
        )
        signature = _signature(fn) if fn is not None else None
        dependencies = _in_signature_order(
            n.required_dependencies | n.optional_dependencies,
            signature.parameters if signature is not None else [],
            order,
        )
        if fn is not None and not is_input:
            source = _Source(fn, n)
        else:  # an input's version is its name (Hamilton's), it has no location
            source = _Source(None, n)
            source._facts = _SourceFacts(None, None, None, None, n.version)
        return NodeInfo(
            name=n.name,
            type=type_name(n.type),
            module=module,
            function=getattr(call, "__name__", None) if not is_input else None,
            doc=(n.documentation or "").strip(),
            tags={k: v for k, v in n.tags.items() if not k.startswith("hamilton.")},
            is_input=is_input,
            dependencies=tuple(dependencies),
            optional=frozenset(n.optional_dependencies),
            defaults=dict(n.optional_dependencies_default_values),
            python_type=n.type,
            expands=htypes.is_parallelizable_type(n.type),
            collects=signature is not None and signature.collects,
            checks=n.tags.get("hamilton.data_quality.source_node"),
            saves=bool(n.tags.get("hamilton.data_saver")),
            _source=source,
        )

    def hamilton_node(self, name: str) -> HamiltonNode:
        return self._hamilton_nodes[name]

    @property
    def edges(self) -> list[tuple[str, str]]:
        """(dependency, consumer) pairs."""
        return [(dep, info.name) for info in self.nodes.values() for dep in info.dependencies]

    def check_known(self, names: Iterable[str]) -> None:
        """Raise `UnknownNodeError`, with close names, for names the DAG does not have."""
        unknown = [name for name in names if name not in self.nodes]
        if unknown:
            raise UnknownNodeError(
                unknown,
                {name: difflib.get_close_matches(name, self.nodes, n=3) for name in unknown},
                known=[name for name, info in self.nodes.items() if not info.is_input],
            )

    def upstream(self, outputs: Iterable[str], stop_at: Iterable[str] = ()) -> set[str]:
        """The outputs and every node they need, not looking past the nodes in `stop_at`."""
        stop = set(stop_at)
        seen: set[str] = set()
        pending = list(outputs)
        while pending:
            name = pending.pop()
            if name in seen:
                continue
            seen.add(name)
            if name not in stop:
                pending.extend(self.nodes[name].dependencies)
        return seen

    def required_inputs(
        self, outputs: Iterable[str], given: Iterable[str] = ()
    ) -> dict[str, list[str]]:
        """External inputs that `outputs` need and `given` lacks, each with the nodes needing it.

        An input that every consumer takes as an optional parameter is not required.
        """
        given = set(given)
        needed = self.upstream(outputs, stop_at=given)
        missing: dict[str, list[str]] = {}
        for name in sorted(needed):
            info = self.nodes[name]
            if not info.is_input or name in given:
                continue
            users = [c for c in self.consumers.get(name, []) if c in needed and c not in given]
            if any(name not in self.nodes[user].optional for user in users):
                missing[name] = sorted(users)
        return missing

    def check_inputs(self, outputs: Iterable[str], given: Iterable[str]) -> None:
        missing = self.required_inputs(outputs, given)
        if missing:
            raise MissingInputsError(missing)

    def check_input_types(self, outputs: Iterable[str], values: Mapping[str, Any]) -> None:
        """Raise `InputTypeError` for external inputs of `outputs` whose type refuses the value."""
        from hamilton import htypes

        needed = self.upstream(outputs, stop_at=values)
        mismatches = {}
        for name in sorted(needed & set(values)):
            info = self.nodes[name]
            if info.is_input and not htypes.check_input_type(info.python_type, values[name]):
                users = sorted(c for c in self.consumers.get(name, []) if c in needed)
                mismatches[name] = (info.type, type(values[name]).__name__, users)
        if mismatches:
            raise InputTypeError(mismatches)

    def expanded_by(self, name: str) -> str | None:
        """The Parallelizable node that node `name` runs once per item of, if any.

        A Collect node gathers the items, so it and what follows run once.
        """
        if self.nodes[name].collects:
            return None
        pending, seen = [name], {name}
        while pending:
            current = pending.pop()
            if self.nodes[current].expands:
                return current
            for dependency in self.nodes[current].dependencies:
                if dependency not in seen and not self.nodes[dependency].collects:
                    seen.add(dependency)
                    pending.append(dependency)
        return None

    def check_synchronous(self, names: Iterable[str]) -> None:
        """Refuse async functions among `names`: kit runs Hamilton's synchronous driver."""
        for name in sorted(names):
            info = self.nodes[name]
            functions = self._hamilton_nodes[name].originating_functions or ()
            if not info.is_input and any(inspect.iscoroutinefunction(f) for f in functions):
                raise GraphError(
                    f"node {name!r} of module {info.module!r} is an async function; "
                    "kit executes and promotes with Hamilton's synchronous driver",
                    modules=[info.module] if info.module else [],
                    hint="make it a plain def; an async DAG runs with hamilton.async_driver "
                    "outside kit",
                )

    def check_not_per_item(self, names: Iterable[str]) -> None:
        """Refuse nodes that run once per item of a Parallelizable: Hamilton cannot return them."""
        for name in names:
            expander = self.expanded_by(name)
            if expander is not None:
                collects = sorted(
                    c
                    for c in self.nodes
                    if self.nodes[c].collects and expander in self.upstream([c])
                )
                raise PerItemNodeError(name, expander, collects)

    def sinks(self, module: str) -> list[str]:
        """Nodes of `module` that no node of the same module consumes, in definition order."""
        own = [name for name, info in self.nodes.items() if info.module == module]
        return [
            name
            for name in own
            if not any(self.nodes[c].module == module for c in self.consumers[name])
        ]

    def topological_order(self, names: Iterable[str] | None = None) -> list[str]:
        """`names` (default all) ordered so every node comes after its dependencies."""
        wanted = set(self.nodes if names is None else names)
        order: list[str] = []
        done: set[str] = set()
        for start in sorted(wanted):
            stack = [(start, iter(self.nodes[start].dependencies))]
            if start in done:
                continue
            done.add(start)
            while stack:
                name, deps = stack[-1]
                for dep in deps:
                    if dep in wanted and dep not in done:
                        done.add(dep)
                        stack.append((dep, iter(self.nodes[dep].dependencies)))
                        break
                else:
                    stack.pop()
                    order.append(name)
        return order
