"""`python -m shipchips_twin generate | serve`: the offline twin's own command (demo and tests use the same session code)."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from datetime import date
from pathlib import Path

from shipchips_twin.scenes import generate_catalog
from shipchips_twin.session import running_twin
from shipchips_twin.world import SAMPLE_DAY, World, WorldSpec

TWIN_CACHE = Path(".twin_cache")


def cmd_generate(args: argparse.Namespace) -> int:
    world = World(WorldSpec(days=tuple(date.fromisoformat(d) for d in args.day)) if args.day else None)
    items = generate_catalog(world, Path(args.out))
    print(f"{len(items)} items under {args.out}")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    """Serve both twins until SIGTERM/SIGINT, printing the environment that points the config at them."""
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with running_twin(World(), Path(args.catalog), SAMPLE_DAY, speedup=args.speedup, close_when_done=False) as twin:
        print("\n".join(f"{k}={v}" for k, v in twin.env().items()), flush=True)
        try:
            stop.wait()
        except KeyboardInterrupt:
            pass
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m shipchips_twin", description="the offline twin of aisstream.io and Earth Search")
    sub = parser.add_subparsers(dest="command", required=True)
    gen = sub.add_parser("generate", help="write the twin's Sentinel-2 catalogue")
    gen.add_argument("--out", default=str(TWIN_CACHE / "catalog"))
    gen.add_argument("--day", action="append", help="world day(s) YYYY-MM-DD (default: the sample day)")
    gen.set_defaults(func=cmd_generate)
    serve = sub.add_parser("serve", help="serve the twin's STAC API and aisstream websocket until stopped")
    serve.add_argument("--catalog", default=str(TWIN_CACHE / "catalog"))
    serve.add_argument("--speedup", type=float, default=60.0, help="replay clock acceleration")
    serve.set_defaults(func=cmd_serve)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
