"""Fixtures of the monitor tests: one minted PKI per session."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.certs import Pki


@pytest.fixture(scope="session")
def monitor_pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return Pki.mint(Path(tmp_path_factory.mktemp("monitor-pki")))
