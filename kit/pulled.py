"""A Prefect run pulled into the workspace: what `ws.pulled` describes and `ws.execute` uses.

kit.pull reads it through the Prefect API; this module only holds it, so the Workspace core can
use a pulled run without importing Prefect.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class PulledNode:
    """One pulled value: its node, the type of its value, the task that computed it."""

    name: str
    type: str  # module.qualname of the value's type
    task: str


@dataclass(frozen=True)
class PulledRun:
    """A flow run as pulled: the run, its inputs and config, every value its tasks persisted."""

    flow: str
    id: str
    name: str
    state: str  # Prefect's state name: Completed, Failed, ...
    message: str | None  # the state's message (a failed run: the exception)
    notebook: str | None  # the notebook its run record names
    inputs: Mapping[str, Any]  # the flow parameters that are inputs of the DAG
    config: Mapping[str, Any]  # the Hamilton config the run used
    versions: Mapping[str, str]  # node -> the code version the run recorded
    nodes: Mapping[str, PulledNode]  # the nodes whose value was pulled
    values: Mapping[str, Any] = field(repr=False)  # node -> value
    failed_tasks: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()  # nodes whose notebook code differs from the recorded version
    url: str | None = None  # the run's page in the Prefect UI

    @property
    def failed(self) -> bool:
        return self.state in ("Failed", "Crashed")

    def text(self) -> str:
        """Plain text: the run, where its values came from, and what changed since."""
        lines = [f"pulled flow {self.flow}: run {self.name!r} {self.id}: {self.state}"]
        if self.message and self.state != "Completed":
            lines.append(f"  {self.message}")
        if self.url:
            lines.append(f"  {self.url}")
        lines.append(f"  config: {dict(self.config)}")
        lines.append(
            "  inputs: " + (", ".join(f"{k}={v!r}" for k, v in self.inputs.items()) or "none")
        )
        by_task: dict[str, list[PulledNode]] = {}
        for node in self.nodes.values():
            by_task.setdefault(node.task, []).append(node)
        for task, nodes in by_task.items():
            values = ", ".join(f"{node.name} ({node.type})" for node in nodes)
            lines.append(f"  task {task}: {values}")
        for task in self.failed_tasks:
            lines.append(f"  task {task}: failed; ws.execute of its outputs reruns it here")
        if self.changed:
            lines.append(
                "  code changed since the run (not the version it recorded): "
                + ", ".join(self.changed)
            )
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.text()

    def _repr_markdown_(self) -> str:
        return "```\n" + self.text() + "\n```"
