"""The nodes each function resolved to, kept between the workspace's driver builds.

Hamilton resolves every function of every module into nodes on each driver build
(`resolve_nodes`, which runs the decorators: ~90% of a build). A re-run cell makes new
function objects, so the functions of the other modules are the very same objects as at the
last build: `NodeCache` keeps what each resolved to, by function and config, and while
`NodeCache.building()` runs Hamilton takes fresh copies of those nodes instead of resolving
again. Everything else of a build (edges, input nodes, type checks, materializers, validation,
dynamic execution) is Hamilton's own code, run as in a full build.

A cached result is used only for the same function object, under an equal config, whose
decorations are the same objects as when it was resolved: `@mutate` in another cell adds its
step to the target's `pipe_output` by replacing a tuple, which counts as a change. Config
values that are not plain data (numbers, strings, containers of them) are compared by
identity, so one mutated in place is not seen (nor is a module global an annotation names
changed from outside the module).

Hamilton's behaviour outside kit's builds is untouched: `resolve_nodes` is replaced only while
some thread is inside `building()`, and the replacement answers from a cache only in the
context (thread) that entered it; everywhere else it calls Hamilton's own.
"""

from __future__ import annotations

import contextvars
import operator
import threading
import types
from collections.abc import Callable, Collection, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hamilton.node import Node

CONFIGS_PER_FUNCTION = 8  # config versions remembered per function (toggling configs hits)
_STATE_LIMIT = 2000  # objects a function's decorations may hold before it is not cached
_NOT_CACHED = object()

# the cache of the build running in this context, and the config keys it computed (one build
# hands Hamilton's one config dict to every call, unchanged while it runs)
_active: contextvars.ContextVar[tuple[NodeCache, dict[int, tuple[Any, ...]]] | None] = (
    contextvars.ContextVar("kit_node_cache", default=None)
)
_Keys = dict[int, tuple[Any, ...]]
_install_lock = threading.Lock()
_installed = 0
_hamilton_resolve: Callable[[Callable, dict[str, Any]], Collection[Node]] | None = None


@dataclass
class _Entry:
    """What one function resolved to: its decoration state and, per config, its nodes."""

    fn: Callable  # held, so its id is not reused while the entry lives
    state: tuple[Any, ...]
    nodes: dict[Any, tuple[tuple[Any, ...], tuple[Node, ...]]] = field(default_factory=dict)
    # config key -> (the config's values, held so identities stay unique; the nodes)


class NodeCache:
    """Resolved nodes by function and config; `hits` and `misses` count `nodes()` answers."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[int, _Entry] = {}
        self._used: set[int] = set()
        self.hits = 0
        self.misses = 0

    def nodes(
        self, fn: Callable, config: Mapping[str, Any], keys: _Keys | None = None
    ) -> tuple[Node, ...]:
        """The nodes `fn` resolves to under `config`, from the cache when nothing changed.

        The nodes returned are the cache's own: read them, never hand them to a graph (see
        `fresh`). Hamilton's errors go through, and nothing is cached for them. `keys` holds
        the config keys of a running build, by config object.
        """
        known = keys.get(id(config)) if keys is not None else None
        if known is not None and known[0] is config:
            key, held = known[1], known[2]
        else:
            key, held = _config_key(config)
            if keys is not None:
                keys[id(config)] = (config, key, held)
        state = _state_of(fn)
        with self._lock:
            self._used.add(id(fn))
            entry = self._entries.get(id(fn))
            if (
                key is not _NOT_CACHED
                and entry is not None
                and entry.fn is fn
                and _same(entry.state, state)
                and key in entry.nodes
            ):
                self.hits += 1
                return entry.nodes[key][1]
            self.misses += 1
        with self.building():  # a subdag's own functions resolve through the cache too
            resolved = tuple(_original()(fn, config))  # type: ignore[arg-type]
        before, state = state, _state_of(fn)  # resolving may mark it (`@config.when` renames it)
        if key is _NOT_CACHED or state is None:
            return resolved
        with self._lock:
            entry = self._entries.get(id(fn))
            if entry is None or entry.fn is not fn or not _same(entry.state, before):
                entry = self._entries[id(fn)] = _Entry(fn, state)
            entry.state = state  # what resolving changed, a full build changes alike
            entry.nodes.pop(key, None)
            entry.nodes[key] = (held, resolved)
            while len(entry.nodes) > CONFIGS_PER_FUNCTION:
                entry.nodes.pop(next(iter(entry.nodes)))
        return resolved

    def fresh(
        self, fn: Callable, config: Mapping[str, Any], keys: _Keys | None = None
    ) -> list[Node]:
        """What `resolve_nodes(fn, config)` returns: new nodes, without edges, Hamilton's to
        change (it adds edges to them, and may tags)."""
        return [_copy(n) for n in self.nodes(fn, config, keys)]

    def prune(self) -> None:
        """Forget the functions not asked for since the last prune (removed or replaced
        modules); the workspace calls it after each successful build."""
        with self._lock:
            for fn_id in set(self._entries) - self._used:
                del self._entries[fn_id]
            self._used = set()

    def __len__(self) -> int:
        return len(self._entries)

    @contextmanager
    def building(self) -> Iterator[NodeCache]:
        """Within the block, Hamilton's `resolve_nodes` (what `create_function_graph` and
        `@subdag` call) answers from this cache, in this context only."""
        _install()
        token = _active.set((self, {}))
        try:
            yield self
        finally:
            _active.reset(token)
            _uninstall()


def _resolve_nodes(fn: Callable, config: dict[str, Any]) -> Collection[Node]:
    """Stands in for `hamilton.function_modifiers.base.resolve_nodes` while a build runs."""
    active = _active.get()
    if active is None:
        return _original()(fn, config)
    cache, keys = active
    return cache.fresh(fn, config, keys)


def _original() -> Callable[[Callable, dict[str, Any]], Collection[Node]]:
    if _hamilton_resolve is not None:
        return _hamilton_resolve
    from hamilton.function_modifiers import base

    return base.resolve_nodes


def _install() -> None:
    global _installed, _hamilton_resolve
    from hamilton.function_modifiers import base

    with _install_lock:
        if _installed == 0:
            _hamilton_resolve = base.resolve_nodes
            base.resolve_nodes = _resolve_nodes
        _installed += 1


def _uninstall() -> None:
    global _installed, _hamilton_resolve
    from hamilton.function_modifiers import base

    with _install_lock:
        _installed -= 1
        if _installed == 0:
            if base.resolve_nodes is _resolve_nodes:  # unless someone replaced it since
                base.resolve_nodes = _hamilton_resolve
            _hamilton_resolve = None


def _copy(n: Node) -> Node:
    """A node as resolve_nodes made it: all its attributes (namespace included, which
    `Node.copy` drops), no edges, and its own tags, inputs and defaults."""
    out = object.__new__(type(n))
    out.__dict__.update(n.__dict__)
    out._dependencies = []
    out._depended_on_by = []
    out._tags = dict(n._tags)
    out._input_types = dict(n._input_types)
    out._default_parameter_values = dict(n._default_parameter_values)
    return out


def _freeze(value: Any, held: list[Any]) -> Any:
    """A hashable stand-in equal for equal plain data; other objects stand for themselves."""
    kind = type(value)
    if value is None or kind in (bool, int, float, complex, str, bytes):
        return (kind, value)
    if kind in (list, tuple):
        return (kind, tuple(_freeze(v, held) for v in value))
    if kind in (set, frozenset):
        return (kind, frozenset(_freeze(v, held) for v in value))
    if kind is dict:
        return (kind, tuple((_freeze(k, held), _freeze(v, held)) for k, v in value.items()))
    held.append(value)
    return (kind, id(value))


def _config_key(config: Mapping[str, Any]) -> tuple[Any, tuple[Any, ...]]:
    """The config as a cache key (in its order), and the objects it names by identity."""
    held: list[Any] = []
    try:
        key = _freeze(dict(config), held)
        hash(key)
    except TypeError:  # an unhashable value that is not plain data: do not cache
        return _NOT_CACHED, ()
    return key, tuple(held)


def _state_of(fn: Callable) -> tuple[Any, ...] | None:
    """Every object the function's decorations hold, in order: the function's code,
    defaults and attributes, and what those attributes hold (decorators, their fields, the
    functions they name and those functions' own decorations). None when it is too large."""
    if isinstance(fn, types.FunctionType) and not fn.__dict__:  # undecorated: the usual case
        annotations = fn.__annotations__
        values = annotations.values()
        return (
            fn,
            fn.__code__,
            fn.__defaults__,
            fn.__kwdefaults__,
            annotations,
            *annotations,
            *values,
        )
    from hamilton.function_modifiers.base import NodeTransformLifecycle as lifecycle

    found: list[Any] = []
    seen: set[int] = set()

    def walk(obj: Any, depth: int) -> None:
        if len(found) > _STATE_LIMIT:
            return
        container = type(obj) in _CONTAINERS
        # a container by its kind, size and contents (Hamilton's own resolving replaces lists
        # with equal ones); anything else by identity, or by value for plain data (see _same)
        found.extend((type(obj), len(obj)) if container and depth else (obj,))
        if depth == 0 or id(obj) in seen or type(obj) in _VALUES or obj is None:
            return
        seen.add(id(obj))
        if isinstance(obj, (types.ModuleType, type)):
            return
        if isinstance(obj, types.FunctionType):
            found.extend((obj.__code__, obj.__defaults__, obj.__kwdefaults__))
            walk(obj.__annotations__, depth - 1)
            for name, value in obj.__dict__.items():
                if name not in _RESOLVING_MARKS:
                    found.append(name)
                    walk(value, depth - 1)
        elif isinstance(obj, dict):
            for name, value in obj.items():
                walk(name, depth - 1)
                walk(value, depth - 1)
        elif container:
            for value in obj:
                walk(value, depth - 1)
        elif hasattr(obj, "__dict__") and (
            type(obj).__module__.startswith("hamilton.") or isinstance(obj, lifecycle)
        ):  # Hamilton's decorators and their parts, and decorators of the user's own
            for name, value in vars(obj).items():
                found.append(name)
                walk(value, depth - 1)

    walk(fn, 8)
    return None if len(found) > _STATE_LIMIT else tuple(found)


_CONTAINERS = (list, tuple, set, frozenset, dict)
# what Hamilton's resolving writes on a function and reads only in error messages at run time:
# `@config.when` sets `__original_name__` to the name as it was, renamed after the first time
_RESOLVING_MARKS = frozenset({"__original_name__"})
_VALUES = (str, bytes, int, float, bool, complex, type(None))


def _same(a: tuple[Any, ...], b: tuple[Any, ...] | None) -> bool:
    """The same objects, or equal plain values (a kind, a size, a name)."""
    if b is None or len(a) != len(b):
        return False
    return all(map(operator.is_, a, b)) or all(
        x is y or (type(x) is type(y) and type(x) in _VALUES and x == y)
        for x, y in zip(a, b, strict=True)
    )
