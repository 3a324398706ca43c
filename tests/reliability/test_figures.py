"""The README's Reliability figures are the sizes of the corpora that the suites run."""

from __future__ import annotations

import re
from collections import Counter

from conftest import REPO

from . import test_bad_input, test_hostile_names


def _figure(measure: str) -> str:
    section = (REPO / "README.md").read_text().split("## Reliability", 1)[1]
    found = re.search(rf"^\| {re.escape(measure)} \| (.+) \|$", section, re.M)
    assert found, measure
    return found.group(1)


def test_the_readme_quotes_the_corpora_as_they_are() -> None:
    cases = test_bad_input.CASES
    fronts = Counter(case.front for case in cases)
    assert _figure("bad inputs tried") == (
        f"{len(cases)} ({fronts['magic']} in a kernel, {fronts['cli']} on the command line, "
        f"{fronts['widget']} widget buttons)"
    )
    assert _figure("errors that name their thing and the fix") == f"{len(cases)} of {len(cases)}"
    assert len(cases) >= 60
    hostile = len(test_hostile_names.CASES)
    assert _figure("hostile names tried") == (
        f"{hostile} (refused or escaped: {hostile}; payloads run: 0)"
    )
    assert _figure("files lost or changed by a refused input") == "0"
