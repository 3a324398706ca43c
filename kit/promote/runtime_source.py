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
from hamilton.data_quality.base import DataValidationError
from hamilton.execution import executors
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import TASK_SOURCE, CacheKeyFnPolicy, CachePolicy
from prefect.context import TaskRunContext
from prefect.utilities.hashing import hash_objects
from prefect.variables import Variable


class DataQualityError(Exception):
    """A @check_output validator of importance "fail" found the node's value wanting."""


@functools.cache
def hamilton_driver(
    modules: tuple[ModuleType, ...],
    config_json: str,
    allow_module_overrides: bool,
    dynamic_execution: bool = False,
) -> driver.Driver:
    """The Hamilton driver over `modules` for one config, built once per process.

    With `dynamic_execution` (a Parallelizable/Collect block), Hamilton runs the block's items
    one after another inside the task; Prefect decides where the task itself runs.
    """
    builder = driver.Builder().with_modules(*modules).with_config(json.loads(config_json))
    if allow_module_overrides:
        builder = builder.allow_module_overrides()
    if dynamic_execution:
        builder = (
            builder.enable_dynamic_execution(allow_experimental_mode=True)
            .with_local_executor(executors.SynchronousLocalTaskExecutor())
            .with_remote_executor(executors.SynchronousLocalTaskExecutor())
        )
    return builder.build()


@functools.cache
def node_names(dr: driver.Driver) -> frozenset[str]:
    """The names of the nodes of the driver's DAG."""
    return frozenset(variable.name for variable in dr.list_available_variables())


@functools.cache
def checked_nodes(dr: driver.Driver) -> dict[str, str]:
    """@check_output validator node -> the node whose value it checks."""
    tag = "hamilton.data_quality.source_node"
    return {v.name: str(v.tags[tag]) for v in dr.list_available_variables() if tag in v.tags}


def run_nodes(
    modules: Sequence[ModuleType],
    hamilton_config: dict[str, Any],
    *,
    outputs: Sequence[str],
    shares: Sequence[str] = (),
    inputs: Mapping[str, Any] | None = None,
    receives: Sequence[str] = (),
    upstream: Sequence[Mapping[str, Any]] = (),
    checks: Sequence[str] = (),
    allow_module_overrides: bool = False,
    dynamic_execution: bool = False,
) -> dict[str, Any]:
    """Compute `outputs` and `shares` (what later tasks receive), taking `receives` from `upstream`.

    `upstream` are the results of the earlier tasks this one receives values from. Under another
    config than the one the flow was promoted with, the DAG may lack some shared or received
    nodes: those are left out, and Hamilton computes whatever else the outputs need. The results
    of the `checks` (@check_output validator nodes) are published as a table artifact.
    """
    config_json = json.dumps(hamilton_config, sort_keys=True)
    dr = hamilton_driver(tuple(modules), config_json, allow_module_overrides, dynamic_execution)
    nodes = node_names(dr)
    wanted = [*outputs, *(name for name in shares if name in nodes and name not in outputs)]
    validators = [name for name in checks if name in nodes and name not in wanted]
    received = {name: value for result in upstream for name, value in result.items()}
    overrides = {name: received[name] for name in receives if name in nodes}
    try:
        results = dr.execute([*wanted, *validators], inputs=dict(inputs or {}), overrides=overrides)
    except DataValidationError as error:
        failures = [_failure(message) for message in error.args[0]]
        publish_checks([(node, check, False, message) for node, check, message in failures])
        node, check, message = failures[0]
        raise DataQualityError(
            f"@check_output of node {node!r}: validator {check} failed: {message}"
        ) from None
    if validators:
        checked = checked_nodes(dr)
        rows = []
        for name in validators:
            result = results.pop(name)
            node = checked[name]
            rows.append((node, name.removeprefix(f"{node}_"), result.passes, result.message))
        publish_checks(rows)
    return results


def _failure(message: str) -> tuple[str, str, str]:
    """(node, validator, message) of Hamilton's `[node:validator] validator failed...` text."""
    found = re.match(r"\[(.+?):(.+?)\] validator failed\. Message was: (.*?)\. Diagnostic", message)
    return (found[1], found[2], found[3]) if found else ("?", "?", message.strip())


def publish_checks(rows: Sequence[tuple[str, str, bool, str]]) -> None:
    """A table artifact of @check_output results: node, validator, passed, message."""
    create_table_artifact(
        table=[
            {"node": node, "validator": check, "passed": passed, "message": message}
            for node, check, passed, message in rows
        ],
        description="Data quality: the @check_output validators of this task",
    )


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
