"""What every generated flow of the project runs: Hamilton drivers, task runs, cache keys, config,
artifacts.

Plain Prefect 3 + Hamilton code that imports nothing of kit. A flow passes in its own modules,
so one copy of this file serves every flow of the project.
"""

import base64
import functools
import hashlib
import inspect
import io
import json
import re
import sys
import tempfile
import warnings
import zipfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

import cloudpickle
import pandas as pd
from hamilton import driver
from hamilton.data_quality.base import DataValidationError
from hamilton.execution import executors
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import CacheKeyFnPolicy, CachePolicy
from prefect.context import TaskRunContext
from prefect.serializers import PickleSerializer
from prefect.utilities.hashing import hash_objects
from prefect.variables import Variable

# Where a flow promoted with --cache persists its task results unless it names a storage block:
# .kit/results beside the flows package, wherever the worker was started.
RESULTS = Path(__file__).resolve().parents[1] / ".kit" / "results"
RUN_RECORD = "run-record"  # the key suffix of the artifact that records what produced a run
SECRET_PREFIX = "secret:"  # a config value or flow parameter `secret:NAME`: a Prefect Secret block


class UnpicklableValueError(Exception):
    """A value that must travel between Dask workers but cannot be pickled."""


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
    task: str | None = None,
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
    # `secret:NAME` values load here, in the task: the config's reach Hamilton as overrides of
    # their input nodes, so the driver, the task's parameters and the cache key keep the reference
    config_blocks = secret_references(hamilton_config, "config key")
    input_blocks = secret_references(inputs or {}, "input")
    secret_config = load_secrets(config_blocks, "config key")
    secret_inputs = load_secrets(input_blocks, "input")
    overrides = {**{k: v for k, v in secret_config.items() if k in nodes}, **overrides}
    masked = secret_masker({**secret_config, **secret_inputs}, {**config_blocks, **input_blocks})
    inputs = {**(inputs or {}), **secret_inputs}
    try:
        return _run(dr, wanted, validators, inputs, overrides, masked, task)
    except BaseException as error:  # a secret's value in the message shows as its reference
        mask_error(error, masked)
        raise


def _run(
    dr: driver.Driver,
    wanted: list[str],
    validators: list[str],
    inputs: dict[str, Any],
    overrides: dict[str, Any],
    masked: Callable[[str], str],
    task: str | None,
) -> dict[str, Any]:
    """Compute `wanted` and the `validators`; publish the validators' results (their messages
    passed through `masked`) and return the rest."""
    try:
        results = dr.execute([*wanted, *validators], inputs=inputs, overrides=overrides)
    except DataValidationError as error:
        failures = [_failure(masked(message)) for message in error.args[0]]
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
            check = name.removeprefix(f"{node}_")
            rows.append(
                (
                    node,
                    check,
                    result.passes,
                    masked(result.message) if isinstance(result.message, str) else result.message,
                )
            )
        publish_checks(rows)
    if task is not None:  # the results leave this process (a Dask worker): each must pickle
        check_picklable(task, results)
    return results


class MissingSecretError(Exception):
    """A `secret:NAME` config value or flow parameter whose Prefect Secret block does not exist."""


def secret_references(values: Mapping[str, Any], kind: str) -> dict[str, str]:
    """Key -> block name, for the values that are `secret:NAME` (a Prefect Secret block).

    Every string value starting with `secret:` is a reference (there is no escape); NAME is a
    block name: lowercase letters, digits and dashes. Nested values are not read.
    """
    found = {}
    for key, value in values.items():
        if isinstance(value, str) and value.startswith(SECRET_PREFIX):
            block = value[len(SECRET_PREFIX) :]
            if not re.fullmatch(r"[a-z0-9-]+", block):
                raise ValueError(
                    f"{kind} {key!r} is {value!r}, which names no Prefect block: a block name is "
                    f"lowercase letters, digits and dashes (write {SECRET_PREFIX}NAME)"
                )
            found[key] = block
    return found


def load_secrets(blocks: Mapping[str, str], kind: str) -> dict[str, Any]:
    """Key -> the value of its Prefect Secret block, loaded now from the flow's Prefect API."""
    from prefect.blocks.system import Secret
    from prefect.exceptions import ObjectNotFound

    load_block: Any = Secret.load  # dual sync/async: `_sync=True` gives the block itself
    values = {}
    for key, block in blocks.items():
        try:
            values[key] = load_block(block, _sync=True).get()
        except ValueError as error:
            if not isinstance(error.__cause__, ObjectNotFound):
                raise
            raise MissingSecretError(
                f"{kind} {key!r} is {SECRET_PREFIX}{block}, and this flow's Prefect API has no "
                f"Secret block named {block!r}: create it there with `prefect block create "
                f'secret` (name it {block}), or python -c "from prefect.blocks.system import '
                f"Secret; Secret(value='...').save('{block}')\""
            ) from None
    return values


def secret_masker(values: Mapping[str, Any], blocks: Mapping[str, str]) -> Callable[[str], str]:
    """A function that replaces each secret value (`values`, by key) in a text by its reference."""
    shown = sorted(
        ((str(value), f"{SECRET_PREFIX}{blocks[key]}") for key, value in values.items()),
        key=lambda pair: -len(pair[0]),
    )

    def masked(text: str) -> str:
        for value, reference in shown:
            if value:
                text = text.replace(value, reference)
        return text

    return masked


def mask_error(error: BaseException, masked: Callable[[str], str]) -> None:
    """Pass the message (and notes) of `error` through `masked`, in place."""
    error.args = tuple(masked(arg) if isinstance(arg, str) else arg for arg in error.args)
    notes = getattr(error, "__notes__", None)
    if isinstance(notes, list):
        notes[:] = [masked(note) if isinstance(note, str) else note for note in notes]


def check_picklable(task: str, results: Mapping[str, Any]) -> None:
    """Refuse, by node, a result of `task` that cannot travel to the flow or another worker."""
    for name, value in results.items():
        try:
            cloudpickle.dumps(value)
        except Exception as error:
            kind = f"{type(value).__module__}.{type(value).__qualname__}"
            raise UnpicklableValueError(
                f"node {name!r} of task {task!r} is a {kind}, which cannot be pickled "
                f"({type(error).__name__}: {error}), so it cannot travel from task {task!r} "
                "to the tasks that use it on other Dask workers: put the nodes that use it in "
                f"task {task!r} (--task {task}=...), or return a picklable value"
            ) from None


def dask_task_runner() -> Any:
    """Prefect's Dask task runner, on the cluster Dask's config names, else a local one.

    `DASK_SCHEDULER_ADDRESS` (Dask's `scheduler-address` setting) names a running cluster.
    """
    import dask
    from prefect_dask import DaskTaskRunner

    address = dask.config.get("scheduler-address", None)
    return DaskTaskRunner(address=address) if address else DaskTaskRunner()


def share_project_with_dask(modules: Sequence[ModuleType]) -> None:
    """Upload the packages of `modules` and of this file to the flow's Dask workers.

    Workers started elsewhere do not have the project on their path; a zip of its packages,
    uploaded through the Dask client, is put on theirs, so the tasks and the Hamilton modules
    they run import there as they do here.
    """
    from prefect.context import FlowRunContext

    context = FlowRunContext.get()
    client = getattr(context.task_runner, "client", None) if context else None
    if client is None:
        return
    packages = sorted(
        {module.__name__.split(".")[0] for module in [*modules, sys.modules[__name__]]}
    )
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as bundle:
        bundle.writestr("project_packages.py", "")  # what a worker imports as it takes the zip
        for package in packages:
            folder = Path(sys.modules[package].__path__[0])
            for source in sorted(folder.rglob("*.py")):
                bundle.write(source, source.relative_to(folder.parent).as_posix())
    digest = hashlib.sha256(archive.getvalue()).hexdigest()[:16]
    path = Path(tempfile.gettempdir()) / f"kit-project-{digest}.zip"
    path.write_bytes(archive.getvalue())
    client.upload_file(str(path))


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


@functools.cache
def code_versions(dr: driver.Driver, nodes: tuple[str, ...]) -> dict[str, str]:
    """Node -> Hamilton code version, for `nodes` and every node upstream of them.

    Hamilton's version hashes a function's source without docstring and comments. A node that
    has none (no source to read) gets the hash of its module's whole source instead (of every
    module of the DAG when it comes from no function).
    """
    present = [name for name in nodes if name in node_names(dr)]
    versions = {}
    for node in dr.what_is_upstream_of(*present):
        if not node.is_external_input:
            versions[node.name] = node.version or _source_version(dr, node.originating_functions)
    return dict(sorted(versions.items()))


def _source_version(dr: driver.Driver, functions: Sequence[Any] | None) -> str:
    """The hash of the source of the modules that define `functions` (all the DAG's if none)."""
    found = [inspect.getmodule(function) for function in functions or ()]
    modules = {module for module in found if module is not None} or set(dr.graph_modules)
    sources = sorted(inspect.getsource(module) for module in modules)
    return "source:" + hashlib.sha256("".join(sources).encode()).hexdigest()


@functools.cache
def used_inputs(dr: driver.Driver, nodes: tuple[str, ...]) -> tuple[str, ...]:
    """The external inputs that `nodes` and every node upstream of them consume."""
    present = [name for name in nodes if name in node_names(dr)]
    return tuple(sorted(n.name for n in dr.what_is_upstream_of(*present) if n.is_external_input))


def cache_policy(
    modules: Sequence[ModuleType], nodes: Sequence[str], *, allow_module_overrides: bool = False
) -> CachePolicy:
    """The policy of a task promoted with --cache: reuse its result while what it depends on stays.

    That is the Hamilton code version of `nodes` (what the task returns) and of every node
    upstream of them across the whole DAG, the values of the flow inputs those nodes consume, and
    the config. The versions are read from the modules this process imports, so the key follows
    the code that runs. The values a task receives from earlier tasks follow from those and are
    not hashed (a large DataFrame costs more to hash than most tasks to run), and nothing of the
    run (its id, its time) is, so a later run reuses the result.
    """
    wanted = tuple(nodes)

    def cache_key(context: TaskRunContext, parameters: dict[str, Any]) -> str | None:
        """The hash of the code versions, the inputs used and the config."""
        config = parameters["hamilton_config"]
        config_json = json.dumps(config, sort_keys=True)
        dr = hamilton_driver(tuple(modules), config_json, allow_module_overrides)
        inputs = parameters.get("inputs") or {}
        used = {name: inputs[name] for name in used_inputs(dr, wanted) if name in inputs}
        return hash_objects(config_json, wanted, code_versions(dr, wanted), used)

    return CacheKeyFnPolicy(cache_key_fn=cache_key)


# Prefect registers a serializer class by its type as the class is made; when this module is
# imported again (a kernel re-imports the flows), it warns that the type replaces itself.
with warnings.catch_warnings():
    warnings.filterwarnings("ignore", "Type 'OneLinePickleSerializer'")

    class OneLinePickleSerializer(PickleSerializer[Any]):
        """Prefect's pickle serializer with its base64 on one line: that of --cache results.

        Prefect's own wraps each pickle with `base64.encodebytes`, a Python loop over 57-byte
        pieces: most of the time a large DataFrame's result takes to persist. The bytes decode as
        Prefect's do; a process that reads a result of this type imports this module first (the
        flows do, so do their workers and `kit pull`).
        """

        type: str = "kit-one-line-pickle"

        def dumps(self, obj: Any) -> bytes:
            return base64.b64encode(cloudpickle.dumps(obj))


def local_result_storage() -> Path:
    """Where task results persist: the absolute path of .kit/results (Prefect stores each result
    there in a file named by its cache key)."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    return RESULTS


def record_run(
    prefix: str,
    notebook: str | None,
    modules: Sequence[ModuleType],
    hamilton_config: dict[str, Any],
    outputs: Sequence[str],
    *,
    allow_module_overrides: bool = False,
) -> None:
    """An artifact keyed `prefix-run-record`: the notebook, the config, each node's code version.

    Published when the run starts, so a run that fails records what it ran too.
    """
    config_json = json.dumps(hamilton_config, sort_keys=True)
    dr = hamilton_driver(tuple(modules), config_json, allow_module_overrides)
    versions = code_versions(dr, tuple(outputs))
    rows = [f"| `{name}` | `{version}` |" for name, version in versions.items()]
    lines = [
        f"Notebook: `{notebook or 'an interactive session'}`",
        "",
        f"Hamilton config: `{config_json}`",
        "",
        "| node | code version |",
        "| --- | --- |",
        *rows,
    ]
    create_markdown_artifact(
        key=f"{prefix}-{RUN_RECORD}",
        markdown="\n".join(lines),
        description="What produced this run: the notebook, the Hamilton config, the code versions",
    )


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
