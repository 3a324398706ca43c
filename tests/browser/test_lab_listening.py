"""The JupyterLab the browser tests drive listens on 127.0.0.1 only and refuses a missing token."""

from __future__ import annotations

import urllib.error
import urllib.request

import pytest

from tests.reliability.test_listening import listening_addresses

from .conftest import Lab


def test_the_tests_jupyterlab_listens_on_127_0_0_1_and_asks_for_its_token(lab: Lab) -> None:
    addresses = listening_addresses(lab.pid)
    assert addresses and all(address.startswith("127.0.0.1:") for address in addresses), addresses
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(f"{lab.url}/api/contents", timeout=5)
    assert refused.value.code == 403
    with urllib.request.urlopen(f"{lab.url}/api/contents?token={lab.token}", timeout=5) as answer:
        assert answer.status == 200
