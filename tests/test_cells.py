"""`%%hamilton` in a real IPython shell: each promise of the cell magic, each mistake it refuses."""

from __future__ import annotations

import json
import pickle
import sys
import textwrap
import types

import pytest
from conftest import run_cell

import kit
from kit.errors import (
    CellError,
    ConfigError,
    DuplicateNodeError,
    MissingInputsError,
    ModuleNameError,
)


@pytest.fixture
def probe(monkeypatch: pytest.MonkeyPatch) -> types.ModuleType:
    """A module cells can import to record that their body ran."""
    module = types.ModuleType("kit_test_probe")
    module.runs = []  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "kit_test_probe", module)
    return module


def test_cell_body_runs_once(shell, probe) -> None:
    result = run_cell(
        shell,
        """\
        %%hamilton counted
        import kit_test_probe
        kit_test_probe.runs.append(__name__)

        def a() -> int:
            return 1
        """,
    )
    assert result.success
    assert probe.runs == ["modules.counted"]


def test_functions_do_not_leak_into_the_notebook(shell) -> None:
    run_cell(
        shell,
        "%%hamilton leaky\nimport math\n\n"
        "def area(radius: float) -> float:\n    return math.pi * radius**2\n",
    )
    assert "area" not in shell.user_ns
    assert "math" not in shell.user_ns
    assert isinstance(shell.user_ns["leaky"], types.ModuleType)


def test_cells_connect_into_one_dag_and_rerunning_upstream_changes_results(shell) -> None:
    run_cell(shell, "%%hamilton source\ndef base() -> int:\n    return 2\n")
    result = run_cell(
        shell, "%%hamilton derived -x\ndef doubled(base: int) -> int:\n    return base * 2\n"
    )
    assert result.success
    assert shell.user_ns["doubled"] == 4
    run_cell(shell, "%%hamilton source\ndef base() -> int:\n    return 10\n")
    assert kit.workspace().execute(["doubled"]) == {"doubled": 20}
    result = run_cell(
        shell, "%%hamilton derived -x\ndef doubled(base: int) -> int:\n    return base * 2\n"
    )
    assert shell.user_ns["doubled"] == 20


def test_rerunning_a_cell_replaces_its_nodes(shell) -> None:
    run_cell(shell, "%%hamilton steps\ndef old() -> int:\n    return 1\n")
    run_cell(shell, "%%hamilton steps\ndef new() -> int:\n    return 2\n")
    names = {node.name for node in kit.workspace().nodes()}
    assert names == {"new"}


def test_config_option_selects_config_when_variant(shell) -> None:
    body = """\
        from hamilton.function_modifiers import config

        @config.when(n=3)
        def size__three() -> str:
            return "three"

        @config.when(n=4)
        def size__four() -> str:
            return "four"
        """
    result = run_cell(shell, "%%hamilton sized -c n=3 -x size\n" + textwrap.dedent(body))
    assert result.success, result.error_in_exec
    assert shell.user_ns["size"] == "three"
    assert kit.workspace().config == {"n": 3}
    run_cell(shell, "%hamilton_config n=4")
    assert kit.workspace().execute(["size"]) == {"size": "four"}


@pytest.mark.parametrize("name", ["json", "my-mod", "class", "pandas"])
def test_module_names_that_cannot_be_modules_are_refused(shell, name: str) -> None:
    result = run_cell(shell, f"%%hamilton {name}\ndef a() -> int:\n    return 1\n")
    assert isinstance(result.error_in_exec, ModuleNameError)
    assert name in str(result.error_in_exec)
    assert sys.modules["json"] is json and json.dumps([1]) == "[1]"
    assert kit.workspace().modules == {}


def test_missing_input_names_the_input_and_its_users(shell) -> None:
    result = run_cell(
        shell,
        "%%hamilton needs -x\n"
        "def total(price: float, count: int) -> float:\n    return price * count\n",
    )
    error = result.error_in_exec
    assert isinstance(error, MissingInputsError)
    assert error.missing == {"count": ["total"], "price": ["total"]}


def test_inputs_come_from_notebook_variables(shell) -> None:
    shell.user_ns.update(price=2.5, count=4)
    result = run_cell(
        shell,
        "%%hamilton needs -x\n"
        "def total(price: float, count: int) -> float:\n    return price * count\n",
    )
    assert result.success
    assert shell.user_ns["total"] == 10.0


def test_an_input_with_a_default_is_optional(shell) -> None:
    result = run_cell(
        shell,
        "%%hamilton optional -x\n"
        "def greeting(name: str = 'world') -> str:\n    return 'hello ' + name\n",
    )
    assert result.success, result.error_in_exec
    assert shell.user_ns["greeting"] == "hello world"


def test_cell_functions_pickle_by_reference(shell) -> None:
    run_cell(shell, "%%hamilton picklable\ndef a() -> int:\n    return 1\n")
    function = kit.workspace().modules["picklable"].a
    data = pickle.dumps(function)
    assert b"modules.picklable" in data
    assert pickle.loads(data) is function


def test_source_of_cell_functions_is_available(shell) -> None:
    import inspect

    run_cell(
        shell,
        '%%hamilton sourced\nfrom __future__ import annotations\n"""Doc."""\n\n'
        "def a() -> int:\n    return 1\n",
    )
    module = kit.workspace().modules["sourced"]
    assert inspect.getsource(module.a) == "def a() -> int:\n    return 1\n"
    assert module.__doc__ is None  # the docstring comes after the __future__ import, as in a file


def test_ipython_syntax_in_the_body_names_the_line(shell) -> None:
    result = run_cell(
        shell, "%%hamilton magicky\ndef a() -> int:\n    return 1\n!pip install nothing\n"
    )
    error = result.error_in_exec
    assert isinstance(error, CellError)
    assert (error.module, error.line) == ("magicky", 3)
    assert "!pip" in str(error)


def test_a_failing_body_keeps_the_previous_module(shell) -> None:
    run_cell(shell, "%%hamilton fragile\ndef a() -> int:\n    return 1\n")
    before = kit.workspace().modules["fragile"]
    result = run_cell(
        shell, "%%hamilton fragile\ndef a() -> int:\n    return 2\nraise RuntimeError('boom')\n"
    )
    error = result.error_in_exec
    assert isinstance(error, CellError) and error.line == 3 and "boom" in str(error)
    assert kit.workspace().modules["fragile"] is before
    assert sys.modules["modules.fragile"] is before
    assert kit.workspace().execute(["a"]) == {"a": 1}


def test_two_modules_defining_one_node_is_an_error_unless_override(shell) -> None:
    run_cell(shell, "%%hamilton first\ndef shared() -> int:\n    return 1\n")
    result = run_cell(shell, "%%hamilton second\ndef shared() -> int:\n    return 2\n")
    error = result.error_in_exec
    assert isinstance(error, DuplicateNodeError)
    assert (error.node, error.modules) == ("shared", ("first", "second"))
    assert list(kit.workspace().modules) == ["first"]
    assert "modules.second" not in sys.modules
    result = run_cell(shell, "%%hamilton second --override\ndef shared() -> int:\n    return 2\n")
    assert result.success
    assert kit.workspace().execute(["shared"]) == {"shared": 2}


def test_module_is_not_pushed_over_a_notebook_variable(shell) -> None:
    shell.user_ns["results"] = [1, 2]
    run_cell(shell, "%%hamilton results\ndef a() -> int:\n    return 1\n")
    assert shell.user_ns["results"] == [1, 2]
    assert "results" in kit.workspace().modules


def test_config_magic_types_values_clears_and_takes_variables(shell) -> None:
    run_cell(shell, "%hamilton_config n=3 flag=true name=a ratio=0.5")
    assert kit.workspace().config == {"n": 3, "flag": True, "name": "a", "ratio": 0.5}
    shell.user_ns["model_type"] = "forest"
    run_cell(shell, "%hamilton_config model=$model_type")
    assert kit.workspace().config == {"model": "forest"}
    run_cell(shell, '%hamilton_config {"a": [1, 2]}')
    assert kit.workspace().config == {"a": [1, 2]}
    shell.user_ns["settings"] = {"b": 2}
    run_cell(shell, "%hamilton_config settings")
    assert kit.workspace().config == {"b": 2}
    run_cell(shell, "%hamilton_config {}")
    assert kit.workspace().config == {}
    result = run_cell(shell, "%hamilton_config model=$nowhere")
    assert isinstance(result.error_in_exec, ConfigError) and "nowhere" in str(result.error_in_exec)


def test_use_adds_an_existing_module(shell, project) -> None:
    (project / "modules" / "prepared.py").write_text("def base() -> int:\n    return 5\n")
    run_cell(shell, "%hamilton_use modules.prepared")
    result = run_cell(
        shell, "%%hamilton on_top -x\ndef plus_one(base: int) -> int:\n    return base + 1\n"
    )
    assert result.success, result.error_in_exec
    assert shell.user_ns["plus_one"] == 6
    assert list(kit.workspace().modules) == ["prepared", "on_top"]


def test_async_functions_are_refused_clearly(shell) -> None:
    run_cell(shell, "%%hamilton later\nasync def fetched() -> int:\n    return 1\n")
    with pytest.raises(kit.KitError, match="'fetched' of module 'later' is an async function"):
        kit.workspace().execute(["fetched"])


def test_unknown_output_suggests_close_names(shell) -> None:
    run_cell(shell, "%%hamilton named\ndef revenue() -> int:\n    return 1\n")
    result = run_cell(shell, "%%hamilton named -x revenu\ndef revenue() -> int:\n    return 1\n")
    assert "did you mean 'revenue'" in str(result.error_in_exec)


def test_a_cell_without_a_name_is_an_error(shell) -> None:
    result = run_cell(shell, "%%hamilton\ndef a() -> int:\n    return 1\n")
    assert isinstance(result.error_in_exec, kit.KitError)
    assert "no module name" in str(result.error_in_exec)


def test_an_input_of_the_wrong_type_names_input_type_and_node(shell) -> None:
    from kit.errors import InputTypeError

    shell.run_cell("%hamilton_config scale=3")
    result = run_cell(
        shell, "%%hamilton typed -x\ndef scaled(scale: float) -> float:\n    return scale * 2\n"
    )
    error = result.error_in_exec
    assert isinstance(error, InputTypeError)
    assert error.mismatches == {"scale": ("float", "int", ["scaled"])}
    shell.run_cell("%hamilton_config scale=3.0")
    assert kit.workspace().execute(["scaled"]) == {"scaled": 6.0}
