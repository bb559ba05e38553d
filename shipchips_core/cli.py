"""The `shipchips` command: the core without Dagster (collector, offline twin, config check)."""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
from datetime import date, datetime, timezone
from pathlib import Path

from .config import ConfigError, load_config, load_secret

TWIN_CACHE = Path(".twin_cache")


def _utc(text: str) -> datetime:
    when = datetime.fromisoformat(text)
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)


def cmd_config(args: argparse.Namespace) -> int:
    cfg = load_config(args.config)
    print(json.dumps({"valid": True, "digest": cfg.digest(), "dataset_root": cfg.dataset_root, "stac": cfg.stac.url, "ais": cfg.ais.url}))
    return 0


def cmd_collect(args: argparse.Namespace) -> int:
    """Collect until SIGTERM/SIGINT, `--until` or `--max-seconds` (exit 0); a bad key or config exits 2.
    Any other failure (e.g. the disk) exits 1 with a traceback, for the supervisor to restart it."""
    from .ais.stream import AisStreamFatal, run_collector, settings_from_config
    from .storage import open_storage

    cfg = load_config(args.config)
    key = load_secret("AISSTREAM_API_KEY")
    if not key:
        print("AISSTREAM_API_KEY is not set (environment or .env)", file=sys.stderr)
        return 2
    overrides = {} if args.stats_every is None else {"stats_interval_seconds": args.stats_every}
    settings = settings_from_config(cfg, key, **overrides)
    try:
        stats = run_collector(
            settings,
            open_storage(cfg.dataset_root),
            stop_at=_utc(args.until) if args.until else None,
            max_seconds=args.max_seconds,
            stop_on_server_close=False,  # a server's normal close is not the end of a live feed
            handle_signals=True,
        )
    except AisStreamFatal as exc:  # its text never holds the key
        print(f"collect: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(stats.summary(), default=str), flush=True)
    return 0


def cmd_twin_generate(args: argparse.Namespace) -> int:
    from .twin.scenes import generate_catalog
    from .twin.world import World, WorldSpec

    world = World(WorldSpec(days=tuple(date.fromisoformat(d) for d in args.day)) if args.day else None)
    paths = generate_catalog(world, Path(args.out))
    print(f"{len(paths)} items under {args.out}")
    return 0


def cmd_twin_serve(args: argparse.Namespace) -> int:
    from .twin.ais_server import AisStreamTwin
    from .twin.scenes import generate_catalog
    from .twin.stac_server import StacApiTwin
    from .twin.world import World

    world = World()
    generate_catalog(world, Path(args.catalog))
    day = world.spec.days[0]
    start = datetime.combine(day, datetime.min.time(), timezone.utc).replace(hour=9, minute=30)
    end = start.replace(hour=11)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with StacApiTwin(Path(args.catalog)) as stac, AisStreamTwin(world, start, end, speedup=args.speedup, close_when_done=False) as ais:
        print(f"SHIPCHIPS__STAC__URL={stac.url}\nSHIPCHIPS__AIS__URL={ais.url}\nAISSTREAM_API_KEY=twin-key", flush=True)
        try:
            stop.wait()
        except KeyboardInterrupt:
            pass
    return 0


def cmd_clay_datacube(args: argparse.Namespace) -> int:
    from .catalog.clay import datacube_command

    return datacube_command(args.config, args.tile_ids, stats=args.stats, out=args.out)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="shipchips", description=__doc__)
    parser.add_argument("--config", help="config.yaml path (default: $SHIPCHIPS_CONFIG or ./config.yaml)")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("config", help="validate the configuration and print its digest").set_defaults(func=cmd_config)
    collect = sub.add_parser("collect", help="collect live AIS from aisstream.io into landing files")
    collect.add_argument("--until", help="stop at this message time (ISO, UTC)")
    collect.add_argument("--max-seconds", type=float, help="stop after this many wall seconds")
    collect.add_argument("--stats-every", type=float, help="log the counters every N seconds (default: ais.stats_interval_seconds)")
    collect.set_defaults(func=cmd_collect)
    twin = sub.add_parser("twin", help="the offline twin of aisstream.io and Earth Search").add_subparsers(dest="twin_command", required=True)
    gen = twin.add_parser("generate", help="write the twin's Sentinel-2 catalogue")
    gen.add_argument("--out", default=str(TWIN_CACHE / "catalog"))
    gen.add_argument("--day", action="append", help="world day(s) YYYY-MM-DD (default: the sample day)")
    gen.set_defaults(func=cmd_twin_generate)
    serve = twin.add_parser("serve", help="serve the twin's STAC API and aisstream websocket until stopped")
    serve.add_argument("--catalog", default=str(TWIN_CACHE / "catalog"))
    serve.add_argument("--speedup", type=float, default=60.0, help="replay clock acceleration")
    serve.set_defaults(func=cmd_twin_serve)
    clay = sub.add_parser("clay", help="Clay exports").add_subparsers(dest="clay_command", required=True)
    cube = clay.add_parser("datacube", help="the datacube Clay's encoder takes for these chips (shapes as JSON)")
    cube.add_argument("tile_ids", nargs="+", metavar="TILE_ID")
    cube.add_argument("--stats", choices=("clay", "shipchips"), default="clay", help="normalize with Clay's published or this dataset's statistics")
    cube.add_argument("--out", help="save the datacube's arrays to this .npz")
    cube.set_defaults(func=cmd_clay_datacube)
    return parser


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except ConfigError as exc:
        print(f"config error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
