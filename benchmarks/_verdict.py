"""What every benchmark ends with: its targets as PASS/FAIL lines, and an exit status to match."""

from __future__ import annotations

import sys
from typing import Callable


def target_lines(targets: list[dict], fmt: str = "{:.3f}", unit: str = "") -> list[str]:
    lines = ["targets:"]
    for t in targets:  # a target may carry its own "fmt" and "unit"
        t_fmt, t_unit = t.get("fmt", fmt), t.get("unit", unit)
        value = "—" if t["value"] is None else t_fmt.format(t["value"])
        lines.append(f"  [{'PASS' if t['pass'] else 'FAIL'}] {t['name']}: {value}{t_unit} (target {t['target']}{t_unit})")
    return lines


def exit_with_verdict(main: Callable[[], dict]) -> None:
    """Run a benchmark's `main` and exit 1 when any target failed (so `make bench` shows it)."""
    sys.exit(0 if all(t["pass"] for t in main()["targets"]) else 1)
