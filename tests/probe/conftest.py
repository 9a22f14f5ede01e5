"""Fixtures of the probe tests: one minted PKI per session, a trust store of its root."""

from __future__ import annotations

from pathlib import Path

import email_validator
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


@pytest.fixture(autouse=True)
def _test_domains_take_mail(monkeypatch: pytest.MonkeyPatch) -> None:
    """email-validator refuses addresses under special-use names such as ``.test`` (right in
    production); our loopback world lives under ``.test``, so tests drop that one name from
    its documented, module-level list."""
    names = [n for n in email_validator.SPECIAL_USE_DOMAIN_NAMES if n != "test"]
    monkeypatch.setattr(email_validator, "SPECIAL_USE_DOMAIN_NAMES", names)
