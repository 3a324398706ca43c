"""Secret references: a config value or flow parameter `secret:NAME` names a Prefect Secret block.

The workspace keeps the reference (what `%hamilton_config token=secret:my-block` wrote); the value
is loaded from Prefect only when something executes (`Workspace.execute`), handed to Hamilton, and
kept nowhere else. Generated flows do the same at run time in flows/_runtime.py (`run_nodes`).

Every string value that starts with `secret:` is a reference: there is no escape. NAME is a Prefect
block name (lowercase letters, digits and dashes); anything else after `secret:` is an error.
References are read in top-level values only: a string nested in a JSON object or list is passed
as written.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from kit.errors import MissingSecretError, SecretError

PREFIX = "secret:"
BLOCK_NAME = re.compile(r"[a-z0-9-]+")  # what Prefect accepts as a block document's name


def reference(value: Any, *, key: str = "?", kind: str = "config key") -> str | None:
    """The block name of a `secret:NAME` value, None for any other value."""
    if not isinstance(value, str) or not value.startswith(PREFIX):
        return None
    block = value[len(PREFIX) :]
    if not BLOCK_NAME.fullmatch(block):
        raise SecretError(
            f"{kind} {key!r} is {value!r}, which names no Prefect block: a block name is "
            "lowercase letters, digits and dashes",
            block=block,
            key=key,
            kind=kind,
            hint=f"write {PREFIX}NAME with the Secret block's name (a value starting with "
            f"{PREFIX!r} is always a secret reference)",
        )
    return block


def references(values: Mapping[str, Any], kind: str = "config key") -> dict[str, str]:
    """Key -> block name, for the values of `values` that are `secret:NAME`."""
    found = {}
    for key, value in values.items():
        block = reference(value, key=key, kind=kind)
        if block is not None:
            found[key] = block
    return found


def load(block: str, *, key: str, kind: str = "config key") -> Any:
    """The value of Prefect's Secret block `block` (the API this process's Prefect uses)."""
    from prefect.blocks.system import Secret
    from prefect.exceptions import ObjectNotFound
    from prefect.settings import PREFECT_API_URL

    load_block: Any = Secret.load  # dual sync/async: `_sync=True` gives the block in a kernel too
    try:
        return load_block(block, _sync=True).get()
    except ValueError as error:
        if isinstance(error.__cause__, ObjectNotFound):
            raise MissingSecretError(
                block, key=key, kind=kind, api=PREFECT_API_URL.value() or None
            ) from None
        raise SecretError(
            f"{kind} {key!r} is secret:{block}, and Prefect cannot load it: {error}",
            block=block,
            key=key,
            kind=kind,
            hint="check that its block is a Secret block",
        ) from None
    except Exception as error:
        raise SecretError(
            f"{kind} {key!r} is secret:{block}, and Prefect cannot load it: "
            f"{type(error).__name__}: {error}",
            block=block,
            key=key,
            kind=kind,
            hint="check that the Prefect API answers (PREFECT_API_URL, `kit server status`)",
        ) from None


def resolve(blocks: Mapping[str, str], kind: str = "config key") -> dict[str, Any]:
    """Key -> secret value, for `blocks` (key -> block name, as `references` gives), loaded now."""
    return {key: load(block, key=key, kind=kind) for key, block in blocks.items()}


def mask(error: BaseException, secrets: Mapping[str, Any], blocks: Mapping[str, str]) -> None:
    """Replace each secret value in `error`'s message by its reference, in place.

    `secrets` and `blocks` are by key: the value and the block it came from.
    """
    shown = {
        str(value): f"{PREFIX}{blocks[key]}"
        for key, value in secrets.items()
        if str(value) and key in blocks
    }
    if not shown:
        return

    def masked(text: str) -> str:
        for value, ref in sorted(shown.items(), key=lambda item: -len(item[0])):
            text = text.replace(value, ref)
        return text

    error.args = tuple(masked(arg) if isinstance(arg, str) else arg for arg in error.args)
    notes = getattr(error, "__notes__", None)
    if isinstance(notes, list):
        notes[:] = [masked(note) if isinstance(note, str) else note for note in notes]
