"""The README stays true: every shell block marked `<!-- runnable -->` runs clean, in order, in a fresh folder."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from conftest import REPO

MARK = re.compile(r"<!-- runnable -->\s*```bash\n(.*?)```", re.DOTALL)


def runnable_blocks() -> list[str]:
    return MARK.findall((REPO / "README.md").read_text())


def test_the_quickstart_blocks_are_marked() -> None:
    blocks = runnable_blocks()
    assert len(blocks) >= 2
    assert "kit init" in blocks[0] and "kit submit" in blocks[-1]


def test_runnable_blocks_run_clean(tmp_path: Path) -> None:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    env.pop("PREFECT_API_URL", None)  # the README's submit uses the embedded Prefect
    for index, block in enumerate(runnable_blocks()):
        done = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", block],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
        )
        assert done.returncode == 0, (
            f"README block {index} failed:\n{block}\n{done.stdout}\n{done.stderr}"
        )
    project = tmp_path / "tour"
    assert (project / "flows" / "sensor_means.py").is_file()
    assert "mean_by_sensor" in (project / "dag.html").read_text()
    assert "Completed" in done.stdout
