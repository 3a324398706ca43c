"""Imports that kit's own processes defer until they are needed.

jsonschema (imported by nbformat and Prefect) imports `rfc3987_syntax` when it is installed (it is,
with JupyterLab), and that module builds an Earley parser for the IRI grammar as it is imported:
about 2 s on a 2-core machine, paid by every `kit` command that reads a notebook or loads Prefect,
and by every kernel that runs `%hamilton_promote`, for a check of the `iri` formats that none of
them makes (`%load_ext kit` defers it too). A stand-in module takes its place until
an IRI is first checked, which then imports the real one: what is checked stays the same.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types

IRI_GRAMMAR = "rfc3987_syntax"


def defer_iri_grammar() -> None:
    """Put the stand-in for `rfc3987_syntax` in place, unless it is imported already or absent."""
    if IRI_GRAMMAR in sys.modules or importlib.util.find_spec(IRI_GRAMMAR) is None:
        return
    stand_in = types.ModuleType(IRI_GRAMMAR, "kit's stand-in until an IRI is first checked")

    def real() -> types.ModuleType:
        if sys.modules.get(IRI_GRAMMAR) is stand_in:
            del sys.modules[IRI_GRAMMAR]
        return importlib.import_module(IRI_GRAMMAR)

    def is_valid_syntax(term: str, value: str) -> bool:
        """The real `rfc3987_syntax.is_valid_syntax` (jsonschema imports this name)."""
        return bool(real().is_valid_syntax(term, value))

    def any_other_name(name: str) -> object:
        if name.startswith("__"):  # what the import system asks of any module (__path__...)
            raise AttributeError(name)
        return getattr(real(), name)

    stand_in.is_valid_syntax = is_valid_syntax  # type: ignore[attr-defined]
    stand_in.__getattr__ = any_other_name  # type: ignore[method-assign]
    sys.modules[IRI_GRAMMAR] = stand_in
