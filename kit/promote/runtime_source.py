"""What every generated flow of the project runs: Hamilton drivers, task runs, config, artifacts.

Plain Prefect 3 + Hamilton code that imports nothing of kit. A flow passes in its own modules,
so one copy of this file serves every flow of the project.
"""

import functools
import inspect
import json
import re
from collections.abc import Mapping, Sequence
from types import ModuleType
from typing import Any

import pandas as pd
from hamilton import driver
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import TASK_SOURCE, CacheKeyFnPolicy, CachePolicy
from prefect.context import TaskRunContext
from prefect.utilities.hashing import hash_objects
from prefect.variables import Variable


@functools.cache
def hamilton_driver(
    modules: tuple[ModuleType, ...], config_json: str, allow_module_overrides: bool
) -> driver.Driver:
    """The Hamilton driver over `modules` for one config, built once per process."""
    builder = driver.Builder().with_modules(*modules).with_config(json.loads(config_json))
    if allow_module_overrides:
        builder = builder.allow_module_overrides()
    return builder.build()


def run_nodes(
    modules: Sequence[ModuleType],
    hamilton_config: dict[str, Any],
    *,
    outputs: Sequence[str],
    shares: Sequence[str] = (),
    inputs: Mapping[str, Any] | None = None,
    receives: Sequence[str] = (),
    upstream: Sequence[Mapping[str, Any]] = (),
    allow_module_overrides: bool = False,
) -> dict[str, Any]:
    """Compute `outputs` and `shares` (what later tasks receive), taking `receives` from `upstream`.

    `upstream` are the results of the earlier tasks this one receives values from. Under another
    config than the one the flow was promoted with, the DAG may lack some shared or received
    nodes: those are left out, and Hamilton computes whatever else the outputs need.
    """
    config_json = json.dumps(hamilton_config, sort_keys=True)
    dr = hamilton_driver(tuple(modules), config_json, allow_module_overrides)
    nodes = dr.graph.nodes
    final_vars = [*outputs, *(name for name in shares if name in nodes and name not in outputs)]
    received = {name: value for result in upstream for name, value in result.items()}
    overrides = {name: received[name] for name in receives if name in nodes}
    return dr.execute(final_vars, inputs=dict(inputs or {}), overrides=overrides)


def cache_policy(modules: Sequence[ModuleType]) -> CachePolicy:
    """The policy of a flow promoted with --cache: reuse a result while its inputs stay the same.

    That is the task's source, the config, the flow inputs and the modules' source. The values a
    task receives from earlier tasks follow from those, so they are not hashed (a large DataFrame
    costs more to hash than most tasks to run, and its pickle need not be the same after a load).
    """
    modules_source = "".join(inspect.getsource(module) for module in modules)

    def cache_key(context: TaskRunContext, parameters: dict[str, Any]) -> str | None:
        """The hash of the config, the flow inputs and the modules' source."""
        return hash_objects(parameters["hamilton_config"], parameters.get("inputs"), modules_source)

    return TASK_SOURCE + CacheKeyFnPolicy(cache_key_fn=cache_key)


def config_from_variable(name: str) -> dict[str, Any]:
    """The Hamilton config stored as a JSON object in the Prefect Variable `name`."""
    config = Variable.get(name)
    if not isinstance(config, dict):
        raise ValueError(
            f"Prefect Variable {name!r} holds {config!r}, not a JSON object of Hamilton config"
        )
    return config


def publish_summary(prefix: str, outputs: dict[str, Any]) -> None:
    """Artifacts keyed `prefix-...`: each output's type and shape, and each DataFrame's head."""
    rows = ["| output | type | shape |", "| --- | --- | --- |"]
    for name, value in outputs.items():
        shape = getattr(value, "shape", None)
        if shape is None and isinstance(value, (list, tuple, dict, set)):
            shape = (len(value),)
        shape_text = " x ".join(map(str, shape)) if isinstance(shape, tuple) else ""
        kind = f"{type(value).__module__}.{type(value).__qualname__}"
        rows.append(f"| `{name}` | `{kind}` | {shape_text} |")
        if isinstance(value, pd.DataFrame):
            create_table_artifact(
                key=re.sub("[^a-z0-9-]+", "-", f"{prefix}-{name}".lower()),
                table=json.loads(value.head(10).to_json(orient="records")),
                description=f"The first rows of `{name}`",
            )
    create_markdown_artifact(
        key=f"{prefix}-outputs",
        markdown="\n".join(rows),
        description="The outputs of this run",
    )
