"""Fixtures of the probe tests: one minted PKI per session, a trust store of its root."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.probe.certs import TrustStore
from tests.support.certs import Pki


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return Pki.mint(Path(tmp_path_factory.mktemp("pki")))


@pytest.fixture(scope="session")
def trust(pki: Pki) -> TrustStore:
    """Only the test root: the host's system store plays no part in these verdicts."""
    return TrustStore.load(pki.ca_file, system=False)
