"""The command table and the instant CLI: every command listed, only the chosen one loaded.

The import checks run the CLI in a fresh process and read ``sys.modules`` at its
end; ``db --help`` is the control that shows the check sees SQLAlchemy when it is
loaded.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import io
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot import cli
from tests.support.certs import CertCase, Pki
from tests.support.dns_server import DnsServer
from tests.support.smtp_server import SmtpFleet, SmtpServer, free_port

pytestmark = pytest.mark.timeout(60)

ROOT = Path(__file__).resolve().parent.parent
HEAVY = ("slack_bolt", "slack_sdk", "sqlalchemy", "sqlmodel", "alembic", "aiohttp")


def words(text: str) -> str:
    return " ".join(text.split())


def run_main(args: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = cli.main(args)
        except SystemExit as exit_:
            code = int(exit_.code or 0)
    return code, out.getvalue(), err.getvalue()


def eager_parser() -> argparse.ArgumentParser:
    """What the parser was before the table: every command module imported and registered."""
    parser = argparse.ArgumentParser(
        prog="tlsbot", description="Enforce TLS on the mail you exchange with partner domains."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in cli.COMMANDS:
        importlib.import_module(command.module).register(sub)
    return parser


def test_top_level_help_lists_every_command_with_its_help() -> None:
    code, out, _ = run_main(["--help"])
    assert code == 0
    for command in cli.COMMANDS:
        assert f"{command.name} {command.help}" in words(out)


def test_each_module_registers_its_table_name_with_the_tables_help() -> None:
    for command in cli.COMMANDS:
        parser = argparse.ArgumentParser(prog="tlsbot")
        sub = parser.add_subparsers(metavar="COMMAND")
        importlib.import_module(command.module).register(sub)
        assert list(sub.choices) == [command.name]
        assert f"{command.name} {command.help}" in words(parser.format_help())


@pytest.mark.parametrize("command", cli.COMMANDS, ids=[c.name for c in cli.COMMANDS])
def test_a_commands_help_is_its_full_help(command: cli.Command) -> None:
    code, out, _ = run_main([command.name, "--help"])
    assert code == 0
    assert out.startswith(f"usage: tlsbot {command.name}")
    full = io.StringIO()
    with contextlib.redirect_stdout(full), pytest.raises(SystemExit):
        eager_parser().parse_args([command.name, "--help"])
    assert out == full.getvalue()


def test_an_unknown_command_is_one_usage_error() -> None:
    code, out, err = run_main(["nonsense"])
    assert code == 2
    assert out == ""
    assert "invalid choice: 'nonsense'" in err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("argv", "name"),
    [
        (["probe", "x.test"], "probe"),
        (["--", "doctor"], "doctor"),
        (["-h", "serve"], "serve"),
        (["--version"], None),
        (["nonsense", "probe"], None),
        ([], None),
    ],
    ids=["plain", "after-dashes", "after-an-option", "none", "unknown", "empty"],
)
def test_the_chosen_command_is_the_first_word(argv: list[str], name: str | None) -> None:
    chosen = cli.chosen(argv)
    assert (chosen.name if chosen else None) == name


# Runs the CLI as ``python -m bot`` would, then writes the names in sys.modules to a file.
# (``-X importtime`` does not log modules loaded through importlib.import_module, which is
# how the command table loads a command, so sys.modules is the record to read.)
RUN_AND_LIST = """
import json, os, sys
from bot.cli import main
try:
    code = main(sys.argv[1:])
except SystemExit as exc:
    code = exc.code
sys.stdout.flush()
with open(os.environ["MODULES_OUT"], "w") as out:
    json.dump(sorted(sys.modules), out)
raise SystemExit(code)
"""


def imports(
    args: list[str], tmp_path: Path, env: dict[str, str] | None = None
) -> tuple[int, str, set[str]]:
    """Exit code, stdout and every module a fresh ``tlsbot ARGS`` process loaded."""
    listing = tmp_path / "modules.json"
    done = subprocess.run(
        [sys.executable, "-c", RUN_AND_LIST, *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, **(env or {}), "MODULES_OUT": str(listing)},
        timeout=60,
    )
    assert "Traceback" not in done.stderr, done.stderr
    return done.returncode, done.stdout, set(json.loads(listing.read_text()))


def heavy(modules: set[str]) -> set[str]:
    return {m for m in modules if m.split(".")[0] in HEAVY}


def test_db_help_loads_sqlalchemy_so_the_check_can_see_it(tmp_path: Path) -> None:
    code, _, modules = imports(["db", "--help"], tmp_path)
    assert code == 0
    assert {"sqlalchemy", "alembic", "sqlmodel"} <= {m.split(".")[0] for m in modules}


def test_version_loads_no_command(tmp_path: Path) -> None:
    code, out, modules = imports(["--version"], tmp_path)
    assert code == 0
    assert out.startswith("tlsbot ")
    assert not heavy(modules)
    assert not {m for m in modules if m.startswith(("bot.commands", "bot.probe.prober"))}


def test_probe_help_loads_no_slack_database_or_aiohttp(tmp_path: Path) -> None:
    code, out, modules = imports(["probe", "--help"], tmp_path)
    assert code == 0
    assert "--route" in out
    assert "bot.commands.probe" in modules
    assert not heavy(modules)
    # bot.policy.levels is the one strict/relaxed enum, which the settings' gateway names
    # validate against: plain enums, no database
    assert not {
        m for m in modules if m.startswith(("bot.commands.", "bot.slack", "bot.policy"))
    } - {"bot.commands.probe", "bot.policy", "bot.policy.levels"}


@pytest.fixture(scope="module")
def loopback_mx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    pki = Pki.mint(Path(tmp_path_factory.mktemp("cli-imports")))
    port = free_port()
    server = SmtpServer("127.0.8.1", port, cert=pki.serve(CertCase.TRUSTED, "mx.quick.test"))
    records = {"quick.test": {"MX": "10 mx.quick.test."}, "mx.quick.test": {"A": "127.0.8.1"}}
    with DnsServer(records) as dns, SmtpFleet([server]):
        ip, dns_port = dns.servers[0]
        yield {
            "TLSBOT_DNS_SERVERS": f"{ip}:{dns_port}" if ":" not in ip else f"[{ip}]:{dns_port}",
            "TLSBOT_SMTP_PORT": str(port),
            "TLSBOT_CA_FILE": str(pki.ca_file),
            "TLSBOT_PROBE_ALLOW_NETWORKS": "127.0.0.0/8",
            "TLSBOT_PROBE_TIMEOUT": "5",
            "TLSBOT_EHLO_NAME": "probe.quick.test",
        }


def test_a_real_probe_loads_no_slack_database_or_aiohttp(
    loopback_mx: dict[str, str], tmp_path: Path
) -> None:
    code, out, modules = imports(["probe", "quick.test"], tmp_path, loopback_mx)
    assert code == 0, out
    assert out.startswith("✓ quick.test: Strict - Trusted Enforced [strict]")
    assert "bot.probe.prober" in modules
    assert not heavy(modules)


def test_the_readme_lists_every_command() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = readme.split("$ tlsbot --help\n", 1)[1].split("```", 1)[0]
    listed = [
        line.split()[0]
        for line in block.splitlines()
        if line.startswith("    ") and line.split()[0].isalpha() and not line.startswith("      ")
    ]
    assert listed == [c.name for c in cli.COMMANDS]
    for command in cli.COMMANDS:
        assert f"| `tlsbot {command.name}" in readme, f"README's command table lacks {command.name}"
