"""A private, throw-away Postfix instance on loopback, and the helpers around it.

    async with PostfixInstance(main={...}, resolv_conf=path) as postfix:
        await postfix.send("user@strict.test")
        line = await postfix.wait_for_status("user@strict.test")

What makes it private: its own config directory (``postfix -c DIR``), queue and
data directories under a temporary directory (world-traversable, because the
Postfix daemons run as the ``postfix`` user and cannot enter pytest's 0700
``tmp_path``), ``maillog_file`` instead of syslog, no chroot, the SMTP server
only on ``127.0.0.1:<free port>``.

DNS: Postfix's SMTP client finds a partner's MX through the C library
resolver, which reads ``/etc/resolv.conf`` (no port can be given there). The
instance is started inside a private mount namespace (``unshare --mount``) in
which a ``resolv.conf`` naming our loopback DNS server on port 53 of ``127.R.0.53`` is
bind-mounted over ``/etc/resolv.conf``; the daemons that ``master`` forks stay
in that namespace, the rest of the machine does not see it. Everything Postfix
can reach is therefore loopback: its DNS, the partners' MX hosts (test SMTP
servers on port 25 of their own ``127.R.0.N``) and the socketmap.
"""

from __future__ import annotations

import asyncio
import os
import random
import re
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path
from types import TracebackType

import pytest

from tests.support import dns_server
from tests.support.dns_server import DnsServer
from tests.support.smtp_server import SmtpServer

POSTFIX = shutil.which("postfix")
POSTMAP = shutil.which("postmap")
SENDMAIL = shutil.which("sendmail")
UNSHARE = shutil.which("unshare")

# CI sets this so that a missing Postfix fails the run instead of skipping quietly.
REQUIRED = os.environ.get("TLSBOT_TEST_REQUIRE_POSTFIX") == "1"

needs_postfix = pytest.mark.skipif(
    (POSTFIX is None or POSTMAP is None) and not REQUIRED,
    reason="Postfix is not installed (run tests/install_debs.sh)",
)
# A loopback /24 of its own per test process (127.R.0.0/24, R random), so parallel runs
# of the suite on one machine do not fight over port 53 and 25 of the same address.
NET = f"127.{random.randint(100, 250)}.0"
DNS_ADDRESS = f"{NET}.53"


def loopback(host: int) -> str:
    """``127.R.0.<host>``: an address on this process's loopback /24."""
    return f"{NET}.{host}"


def can_run_instance() -> str | None:
    """Why a private instance cannot run here, or ``None`` when it can (always under CI)."""
    if REQUIRED:
        return None
    if POSTFIX is None or SENDMAIL is None:
        return "Postfix is not installed (run tests/install_debs.sh)"
    if os.geteuid() != 0:
        return "a private Postfix instance needs root (port 25/53, unshare, postfix start)"
    if UNSHARE is None:
        return "unshare (util-linux) is not installed"
    return None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def postmap_query(key: str, table: str) -> str | None:
    """``postmap -q KEY TABLE``: the value, or ``None`` when not found (exit 1)."""
    assert POSTMAP is not None
    proc = await asyncio.create_subprocess_exec(
        POSTMAP,
        "-c",
        str(empty_config()),
        "-q",
        key,
        table,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 20)
    if proc.returncode not in (0, 1) or b"fatal:" in err:  # a query error also exits 1
        raise AssertionError(f"postmap -q {key!r} {table} failed: {err.decode().strip()}")
    return out.decode().rstrip("\n") if proc.returncode == 0 else None


async def postmap_build(table: str) -> None:
    """``postmap TYPE:FILE``."""
    assert POSTMAP is not None
    proc = await asyncio.create_subprocess_exec(
        POSTMAP, "-c", str(empty_config()), table, stderr=subprocess.PIPE
    )
    _, err = await asyncio.wait_for(proc.communicate(), 20)
    if proc.returncode != 0:
        raise AssertionError(f"postmap {table} failed: {err.decode().strip()}")


_config_dir: Path | None = None


def empty_config() -> Path:
    """postmap/postconf need a main.cf; Debian's "No configuration" install has none."""
    global _config_dir
    if _config_dir is None:
        _config_dir = Path(tempfile.mkdtemp(prefix="tlsbot-postconf-"))
        (_config_dir / "main.cf").write_text("compatibility_level = 3.6\n")
    return _config_dir


class PortDnsServer(DnsServer):
    """The shared loopback DNS server, bound to a fixed address and port (53 by default)."""

    def __init__(self, records: dns_server.Records, address: str = DNS_ADDRESS) -> None:
        super().__init__(records, ipv6=False)
        self.bind_address = address

    async def _bind(self, ipv6: bool) -> None:
        loop = asyncio.get_running_loop()
        address = (self.bind_address, 53)
        udp, _ = await loop.create_datagram_endpoint(
            lambda: dns_server._Udp(self), local_addr=address
        )
        self._closers.append(udp)
        self._closers.append(await asyncio.start_server(self._serve_tcp, *address))
        self._servers = (address,)


class MailSink(SmtpServer):
    """The shared test SMTP server as a mail sink, so a real Postfix delivery completes."""

    def __post_init__(self) -> None:
        self.accept_data = True
        super().__post_init__()


MASTER_CF = """\
{listen} inet n - n - - smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""


class PostfixInstance:
    def __init__(self, main: dict[str, str], resolv_conf: Path) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="tlsbot-postfix-"))
        self.root.chmod(0o755)
        self.config = self.root / "etc"
        self.maillog = self.root / "maillog"
        self.smtpd_port = free_port()
        self.resolv_conf = resolv_conf
        settings = {
            "compatibility_level": "3.6",
            "queue_directory": str(self.root / "spool"),
            "data_directory": str(self.root / "data"),
            "maillog_file": str(self.maillog),
            "maillog_file_prefixes": str(self.root),
            "myhostname": "gateway.tlsbot.test",
            "mydomain": "tlsbot.test",
            "mydestination": "",
            "relayhost": "",
            "inet_interfaces": "127.0.0.1",
            "inet_protocols": "ipv4",
            "alias_maps": "",
            "alias_database": "",
            "smtp_host_lookup": "dns",
            "smtp_dns_support_level": "enabled",
            "smtp_connect_timeout": "5s",
            "smtp_helo_timeout": "10s",
            "smtp_tls_security_level": "may",
            "smtp_tls_loglevel": "1",
            "delay_warning_time": "0",
            "notify_classes": "",
            "smtpd_tls_security_level": "may",
            **main,
        }
        self.config.mkdir()
        (self.root / "data").mkdir()
        (self.root / "spool").mkdir()
        shutil.chown(self.root / "data", user="postfix")
        (self.config / "main.cf").write_text(
            "".join(f"{key} = {value}\n" for key, value in settings.items())
        )
        (self.config / "master.cf").write_text(
            MASTER_CF.format(listen=f"127.0.0.1:{self.smtpd_port}")
        )

    def file(self, name: str, content: bytes | str) -> Path:
        """Place a file Postfix must read (world-readable, inside the instance)."""
        path = self.root / name
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
        path.chmod(0o644)
        return path

    async def __aenter__(self) -> PostfixInstance:
        await self._run(
            UNSHARE or "unshare",
            "--mount",
            "--propagation",
            "private",
            "sh",
            "-c",
            'mount --bind "$1" /etc/resolv.conf && exec "$2" -c "$3" start',
            "sh",
            str(self.resolv_conf),
            POSTFIX or "postfix",
            str(self.config),
        )
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            await self._run(POSTFIX or "postfix", "-c", str(self.config), "abort", check=False)
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    async def send(self, *recipients: str, sender: str = "") -> None:
        """Submit a message through sendmail (postdrop → pickup), null sender by default."""
        message = b"From: tests@gateway.tlsbot.test\r\nSubject: tlsbot test\r\n\r\nhello\r\n"
        await self._run(
            SENDMAIL or "sendmail",
            "-f",
            sender or "<>",
            "--",
            *recipients,
            stdin=message,
            env={**os.environ, "MAIL_CONFIG": str(self.config)},
        )

    def log(self) -> str:
        return self.maillog.read_text(errors="replace") if self.maillog.exists() else ""

    async def wait_for_status(self, recipient: str, timeout: float = 30.0) -> str:
        """The first delivery-status line for ``recipient`` (sent, deferred, bounced)."""
        pattern = re.compile(rf"to=<{re.escape(recipient)}>.*status=\w+.*")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            found = pattern.search(self.log())
            if found:
                return found.group(0)
            await asyncio.sleep(0.1)
        raise AssertionError(f"no delivery status for {recipient} in:\n{self.log()[-3000:]}")

    async def _run(
        self,
        *argv: str,
        stdin: bytes | None = None,
        env: dict[str, str] | None = None,
        check: bool = True,
    ) -> None:
        proc = await asyncio.create_subprocess_exec(
            *argv,
            stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=env,
        )
        out, _ = await asyncio.wait_for(proc.communicate(stdin), 30)
        if check and proc.returncode != 0:
            raise AssertionError(
                f"{' '.join(argv[:4])}… failed ({proc.returncode}): {out.decode()}\n"
                f"{self.log()[-2000:]}"
            )
