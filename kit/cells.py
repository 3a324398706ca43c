"""Turn the body of a `%%hamilton NAME` cell into a real, importable, picklable module."""

from __future__ import annotations

import hashlib
import importlib.util
import keyword
import linecache
import sys
import types

from kit.errors import CellError, ModuleNameError

MAX_NAME_BYTES = 100  # the module is a file (NAME.py), whose name has at most 255 bytes


def check_module_name(name: str, *, modules_package: str = "modules") -> None:
    """Refuse names that are not identifiers, are keywords, or would shadow an importable module."""
    if not name:
        raise ModuleNameError(name, "is empty", hint="write %%hamilton NAME with a module name")
    if not name.isidentifier():
        raise ModuleNameError(
            name,
            "is not a Python identifier",
            hint=f"use letters, digits and underscores, e.g. {_identifier_like(name)!r}",
        )
    if len(name.encode()) > MAX_NAME_BYTES:
        raise ModuleNameError(
            name,
            f"is longer than {MAX_NAME_BYTES} bytes, too long for a file name",
            hint="give the cell a shorter module name",
        )
    if keyword.iskeyword(name) or keyword.issoftkeyword(name):
        raise ModuleNameError(name, "is a Python keyword", hint=f"call it e.g. {name + '_steps'!r}")
    if name == modules_package or _is_importable_top_level(name):
        raise ModuleNameError(
            name,
            "is the name of an importable module; the cell would shadow it",
            hint=f"call it e.g. {name + '_steps'!r}",
        )


def _identifier_like(name: str) -> str:
    cleaned = "".join(ch if ch.isalnum() or ch == "_" else "_" for ch in name)
    return cleaned if cleaned[:1].isalpha() or cleaned[:1] == "_" else f"m_{cleaned}"


def _is_importable_top_level(name: str) -> bool:
    if name in sys.builtin_module_names or name in sys.stdlib_module_names:
        return True
    existing = sys.modules.get(name)
    if existing is not None:
        return True
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def cell_filename(qualified_name: str, source: str) -> str:
    """The pseudo file name a cell module's code and tracebacks point at, one per version."""
    digest = hashlib.sha256(source.encode()).hexdigest()[:8]
    return f"<kit cell {qualified_name} {digest}>"


def compile_cell(source: str, *, module: str, filename: str) -> types.CodeType:
    """Compile a cell body as a module file would be.

    No inherited __future__ flags, no added lines.
    """
    try:
        return compile(source, filename, "exec", dont_inherit=True)
    except SyntaxError as error:
        text = error.text or ""
        if text.lstrip().startswith(("%", "!")):
            raise CellError(
                "IPython syntax cannot go into a module file",
                module=module,
                line=error.lineno,
                text=text,
                hint="move magics and shell commands (%time, !pip) to an ordinary cell",
            ) from None
        raise CellError(
            f"syntax error: {error.msg}",
            module=module,
            line=error.lineno,
            text=text,
            hint="fix the line and run the cell again",
        ) from None


def build_cell_module(name: str, source: str, *, package: str) -> types.ModuleType:
    """Run `source` once as module `package.name`, registered in sys.modules while it runs.

    Hamilton keeps only the functions whose module is the one it inspects, and decorators
    such as `@mutate` look the module up while the body runs, so the module is in
    `sys.modules` first. If the body fails, the previous module of that name is put back.
    """
    qualified = f"{package}.{name}"
    filename = cell_filename(qualified, source)
    code = compile_cell(source, module=name, filename=filename)
    module = types.ModuleType(qualified)
    module.__file__ = filename
    module.__package__ = package
    previous = sys.modules.get(qualified)
    linecache.cache[filename] = (len(source), None, source.splitlines(keepends=True), filename)
    sys.modules[qualified] = module
    try:
        exec(code, module.__dict__)
    except BaseException as error:
        if previous is None:
            sys.modules.pop(qualified, None)
        else:
            sys.modules[qualified] = previous
        if isinstance(error, (KeyboardInterrupt, SystemExit)):
            raise
        line = _failing_line(error, filename)
        raise CellError(
            f"running the cell raised {type(error).__name__}: {error}",
            module=name,
            line=line,
            text=source.splitlines()[line - 1] if line else None,
            hint="fix the cell and run it again; the previous version of the module is kept",
        ) from error
    parent = sys.modules.get(package)
    if parent is not None:
        setattr(parent, name, module)
    return module


def _failing_line(error: BaseException, filename: str) -> int | None:
    """The deepest traceback line that lies in the cell."""
    line = None
    tb = error.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == filename:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def ensure_package(package: str) -> None:
    """Make `package` importable: import it from the project, or stand in an empty one."""
    if package in sys.modules:
        return
    try:
        importlib.import_module(package)
    except ImportError:
        stand_in = types.ModuleType(package)
        stand_in.__path__ = []
        sys.modules[package] = stand_in
