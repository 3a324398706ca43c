"""Parse Hamilton config as the magics write it: `k=v` pairs, JSON, a variable, `$name`."""

from __future__ import annotations

import ast
import json
import shlex
from collections.abc import Mapping
from typing import Any

from kit.errors import ConfigError


def typed_value(text: str) -> Any:
    """`3` is the int 3, `true` the bool, `[1, 2]` a list, `a` the str 'a'."""
    for parse in (json.loads, ast.literal_eval):
        try:
            return parse(text)
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            continue
    return text


def resolve_value(text: str, namespace: Mapping[str, Any]) -> Any:
    """A value that is `$name` takes the variable `name` from `namespace`; anything else is typed."""
    if text.startswith("$") and text[1:].isidentifier():
        name = text[1:]
        if name not in namespace:
            raise ConfigError(
                f"${name} names no variable",
                text=text,
                hint=f"define {name} (typically in the notebook's parameters cell) before this line",
            )
        return namespace[name]
    return typed_value(text)


def parse_config(text: str, namespace: Mapping[str, Any]) -> dict[str, Any]:
    """Parse what follows `%hamilton_config` or `-c`: JSON, a dict variable, or `k=v` pairs."""
    text = text.strip()
    if not text:
        return {}
    if text[0] in "{[":
        value = typed_value(text)
        if not isinstance(value, dict):
            raise ConfigError(
                f"config {text!r} is not a JSON object",
                text=text,
                hint='write it as {"key": value} or as key=value pairs',
            )
        return value
    variable = text[1:] if text.startswith("$") else text
    if variable.isidentifier() and "=" not in text:
        if variable not in namespace:
            raise ConfigError(
                f"config {text!r} names no variable",
                text=text,
                hint="write key=value pairs, a JSON object, or the name of a dict variable",
            )
        value = namespace[variable]
        if not isinstance(value, Mapping):
            raise ConfigError(
                f"config variable {variable!r} holds a {type(value).__name__}, not a dict",
                text=text,
                hint="give a dict of config keys to values",
            )
        return dict(value)
    try:
        words = shlex.split(text)
    except ValueError as error:
        raise ConfigError(f"config {text!r}: {error}", text=text, hint="close the quotes") from None
    config: dict[str, Any] = {}
    for word in words:
        key, equals, value = word.partition("=")
        if not equals or not key.isidentifier():
            raise ConfigError(
                f"config item {word!r} is not key=value",
                text=text,
                hint="write key=value pairs such as model=rf n=3",
            )
        config[key] = resolve_value(value, namespace)
    return config


def config_references(text: str) -> dict[str, str]:
    """The keys whose value is written `$name` in `k=v` config text: key -> variable name."""
    text = text.strip()
    if not text or text[0] in "{[" or "=" not in text:
        return {}
    try:
        words = shlex.split(text)
    except ValueError:
        return {}
    references = {}
    for word in words:
        key, _, value = word.partition("=")
        if value.startswith("$") and value[1:].isidentifier():
            references[key] = value[1:]
    return references
