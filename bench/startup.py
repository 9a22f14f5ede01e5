"""Start-up time of the ``tlsbot`` command line, measured as whole processes.

    python3 bench/startup.py [--runs 20] [--warmup 2] [--python-m]

Runs ``tlsbot --version``, ``tlsbot probe --help`` and ``tlsbot serve --help`` one
after another, ``--runs`` times each after ``--warmup`` uncounted runs, and prints
each command's median and minimum wall time (process start to exit, as a shell
sees it) next to its target. The ``tlsbot`` script installed beside this Python is
used; ``--python-m`` (or no such script) runs ``python -m bot`` instead. Touches no
network and no database.

Targets (issue 12): ``tlsbot --version`` <= 80 ms, ``tlsbot probe --help`` <= 150 ms;
``tlsbot serve --help`` has none (it loads Slack, aiohttp and SQLAlchemy, and is
shown for comparison). Exit 0 when both medians meet their targets, 1 otherwise.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

COMMANDS: tuple[tuple[tuple[str, ...], float | None], ...] = (
    (("--version",), 80.0),
    (("probe", "--help"), 150.0),
    (("serve", "--help"), None),
)


def launcher(python_m: bool) -> list[str]:
    script = Path(sys.executable).with_name("tlsbot")
    if not python_m and script.exists():
        return [str(script)]
    return [sys.executable, "-m", "bot"]


def environment() -> dict[str, str]:
    """The caller's environment without tlsbot's or Slack's settings: --help reads none."""
    return {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("TLSBOT_", "SLACK_")) and k != "DATABASE_URL"
    }


def once(argv: list[str], env: dict[str, str]) -> float:
    """Milliseconds from spawning ``argv`` to its exit."""
    started = time.perf_counter()
    done = subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    elapsed = (time.perf_counter() - started) * 1000
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({done.returncode}): {done.stderr.decode()}")
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=20, help="counted runs per command")
    parser.add_argument("--warmup", type=int, default=2, help="uncounted runs first")
    parser.add_argument("--python-m", action="store_true", help="run `python -m bot`")
    args = parser.parse_args()
    base, env = launcher(args.python_m), environment()
    print(f"{' '.join(base)}: {args.runs} runs each after {args.warmup} warm-up runs")
    print(f"{'command':<28} {'median ms':>10} {'min ms':>8} {'max ms':>8}  target")
    ok = True
    for words, target in COMMANDS:
        argv = [*base, *words]
        for _ in range(args.warmup):
            once(argv, env)
        times = [once(argv, env) for _ in range(args.runs)]
        median = statistics.median(times)
        verdict = "—"
        if target is not None:
            met = median <= target
            ok = ok and met
            verdict = f"<= {target:.0f} ms: {'met' if met else 'MISSED'}"
        name = "tlsbot " + " ".join(words)
        print(f"{name:<28} {median:>10.1f} {min(times):>8.1f} {max(times):>8.1f}  {verdict}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
