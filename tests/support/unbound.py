"""A real validating resolver for the tests: Debian's ``unbound``, on a loopback port.

    with DnsServer(records) as dns:
        anchor = dns.sign("signed.test")
        with Unbound(tmp_path, forward_to=dns.address, trust_anchors=[anchor]) as resolver:
            settings = ProbeSettings(dns_servers=(resolver.address,), dnssec=Dnssec.RESOLVER)

Its configuration is written to the given directory: it listens on 127.0.0.1 (or the
``listen`` address given) at a free port, forwards every question to the tests' own DNS
server (``forward-zone: "."``, so it never reaches the internet), validates with the
trust anchors given (the signed test zones' DS records) and caches nothing
(``cache-max-ttl: 0``), so a test may change a record and ask again. ``test.`` is not
one of its built-in local zones here (``local-zone: "test." nodefault``). Answers under a
trust anchor carry AD when they validate; bogus ones are SERVFAIL (and the data, with
CD, unvalidated); everything else is insecure.

``UNBOUND`` is the binary, or ``None`` when it is not installed (tests/install_debs.sh
installs it; under CI a missing unbound fails the run instead of skipping).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType
from typing import Self

import dns.exception
import dns.message
import dns.query
import pytest

UNBOUND = shutil.which("unbound") or (
    "/usr/sbin/unbound" if Path("/usr/sbin/unbound").exists() else None
)
REQUIRED = os.environ.get("TLSBOT_TEST_REQUIRE_POSTFIX") == "1"  # CI: .ci/run sets it

needs_unbound = pytest.mark.skipif(
    UNBOUND is None and not REQUIRED,
    reason="unbound is not installed (run tests/install_debs.sh)",
)

CONFIG = """\
server:
    interface: {host}@{port}
    port: {port}
    do-ip4: yes
    do-ip6: no
    do-udp: yes
    do-tcp: yes
    do-daemonize: no
    num-threads: 1
    username: ""
    chroot: ""
    directory: "{directory}"
    pidfile: ""
    use-syslog: no
    logfile: "{directory}/unbound.log"
    log-servfail: yes
    verbosity: 1
    val-log-level: 2
    access-control: 127.0.0.0/8 allow
    do-not-query-localhost: no
    module-config: "validator iterator"
    cache-max-ttl: 0
    cache-max-negative-ttl: 0
    prefetch: no
    qname-minimisation: no
    aggressive-nsec: no
    ede: yes
    local-zone: "test." nodefault
{anchors}
remote-control:
    control-enable: no

forward-zone:
    name: "."
    forward-addr: {forward}
"""


class Unbound:
    def __init__(
        self,
        directory: Path,
        *,
        forward_to: tuple[str, int],
        trust_anchors: Iterable[str] = (),
        listen: tuple[str, int] | None = None,
    ) -> None:
        self.directory = directory
        self.directory.mkdir(parents=True, exist_ok=True)
        self.directory.chmod(0o755)  # unbound may drop to its own user
        self.forward_to = forward_to
        self.trust_anchors = tuple(trust_anchors)
        self.listen = listen
        self.address: tuple[str, int] = ("127.0.0.1", 0)
        self._process: subprocess.Popen[bytes] | None = None

    def log(self) -> str:
        path = self.directory / "unbound.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def start(self) -> None:
        if UNBOUND is None:
            raise RuntimeError("unbound is not installed (run tests/install_debs.sh)")
        host, port = self.listen or ("127.0.0.1", _free_port())
        self.address = (host, port)
        forward = f"{self.forward_to[0]}@{self.forward_to[1]}"
        anchors = "".join(f'    trust-anchor: "{a}"\n' for a in self.trust_anchors)
        conf = self.directory / "unbound.conf"
        conf.write_text(
            CONFIG.format(
                host=host, port=port, directory=self.directory, anchors=anchors, forward=forward
            )
        )
        self._process = subprocess.Popen(
            [UNBOUND, "-d", "-c", str(conf)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        self._wait_ready()

    def restart(self, *, trust_anchors: Iterable[str]) -> None:
        """Stop, then start again on the same address with other trust anchors (a zone whose
        anchor is gone is insecure to it, as one whose DS the parent withdrew)."""
        self.stop()
        self.trust_anchors = tuple(trust_anchors)
        self.listen = self.address
        self.start()

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
        if process.stderr is not None:
            process.stderr.close()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _wait_ready(self) -> None:
        """Until unbound answers a question (at most 10 s); its error output if it died."""
        assert self._process is not None
        deadline = time.monotonic() + 10
        query = dns.message.make_query("ready.invalid.", "A")
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                err = self._process.stderr.read().decode() if self._process.stderr else ""
                raise RuntimeError(f"unbound exited ({self._process.returncode}): {err}")
            with contextlib.suppress(dns.exception.DNSException, OSError):
                dns.query.udp(query, self.address[0], port=self.address[1], timeout=0.2)
                return
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"unbound did not answer within 10 s:\n{self.log()}")


def _free_port() -> int:
    """A port free for both UDP and TCP on 127.0.0.1."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.bind(("127.0.0.1", 0))
            port = int(udp.getsockname()[1])
            with socket.socket() as tcp:
                try:
                    tcp.bind(("127.0.0.1", port))
                except OSError:
                    continue
            return port
    raise OSError("no free loopback port for unbound")
