"""The `shipchips` command: the core without Dagster (config check, live collector, SQL over the dataset).
The offline twin has its own command: `python -m shipchips_twin`."""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

from shipchips_core.config import ConfigError, load_config, load_secret, missing_secret
from shipchips_core.progress import Progress, is_terminal, polling


def _utc(text: str) -> datetime:
    when = datetime.fromisoformat(text)
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)


def cmd_config(args: argparse.Namespace) -> int:
    cfg = load_config(args.config)
    print(json.dumps({"valid": True, "digest": cfg.digest(), "dataset_root": cfg.dataset_root, "stac": cfg.stac.url, "ais": cfg.ais.url}))
    return 0


def cmd_collect(args: argparse.Namespace) -> int:
    """Collect until SIGTERM/SIGINT, `--until` or `--max-seconds` (exit 0); a bad key or config exits 2.
    A landing file that cannot be written exits 1 naming it; any other failure exits 1 with a
    traceback: the supervisor restarts it (and the restart lands what the journals hold)."""
    from shipchips_core.ais.landing import LandingError
    from shipchips_core.ais.stream import AisStreamFatal, CollectStats, run_collector, settings_from_config
    from shipchips_core.dataset.storage import open_storage

    cfg = load_config(args.config)
    key = load_secret("AISSTREAM_API_KEY")
    if not key:
        print(f"collect: {missing_secret('AISSTREAM_API_KEY')}", file=sys.stderr)
        return 2
    overrides = {} if args.stats_every is None else {"stats_interval_seconds": args.stats_every}
    settings = settings_from_config(cfg, key, **overrides)
    stats = CollectStats()
    live = not args.json and is_terminal(sys.stderr)
    if live:  # the live line replaces the periodic counters on the terminal
        logging.getLogger("shipchips_core.ais.stream").setLevel(logging.WARNING)
    try:
        with _collect_line(stats, live):
            run_collector(
                settings,
                open_storage(cfg.dataset_root, cfg.s3),
                stop_at=_utc(args.until) if args.until else None,
                max_seconds=args.max_seconds,
                stop_on_server_close=False,  # a server's normal close is not the end of a live feed
                handle_signals=True,
                stats=stats,
            )
    except AisStreamFatal as exc:  # its text never holds the key
        print(f"collect: {exc}", file=sys.stderr)
        return 2
    except LandingError as exc:  # names the file and the system error (e.g. [Errno 28] No space left)
        print(f"collect: {exc}", file=sys.stderr)
        return 1
    if live and is_terminal(sys.stdout):
        print(f"collected {stats.received:,} messages: {stats.landed:,} landed, {stats.quarantined:,} quarantined, "
              f"{stats.files_written} files ({stats.stop_reason}); --json for the counters")
    else:
        print(json.dumps(stats.summary(), default=str), flush=True)
    return 0


@contextlib.contextmanager
def _collect_line(stats, live: bool):
    """On a terminal, a live `msg/s · landed · quarantined` line (the rate over the last seconds)."""
    if not live:
        yield
        return
    last = [time.monotonic(), 0]

    def read() -> None:
        now = time.monotonic()
        rate = (stats.received - last[1]) / max(now - last[0], 1e-9)
        last[:] = [now, stats.received]
        line.update(stats.received, status=f"{stats.received:,} msg · {rate:,.0f} msg/s · {stats.landed:,} landed · "
                                           f"{stats.quarantined:,} quarantined · {stats.reconnects} reconnects")

    with Progress("collecting AIS", None, "msg", stream=sys.stderr) as line, polling(read, every_s=1.0):
        yield


def cmd_sql(args: argparse.Namespace) -> int:
    """SQL over the dataset's views (tiles, ais_observations, chips, plan, scenes, stac_items); values bound."""
    from shipchips_core.catalog import query, serving
    from shipchips_core.dataset.storage import open_storage

    if (args.query is None) == (args.file is None):
        print("sql: give a query or --file FILE (one of them)", file=sys.stderr)
        return 2
    sql = Path(args.file).read_text(encoding="utf-8") if args.file else args.query
    cfg = load_config(args.config)
    try:
        params = dict(query.parse_param(p) for p in args.param)
        cache = None if args.no_cache else Path(args.cache_dir) if args.cache_dir else serving.default_cache_dir()
        con = query.open_catalog(open_storage(cfg.dataset_root, cfg.s3), serving_cache=cache,
                                 on_fallback=lambda why: print(f"sql: {why}", file=sys.stderr))
        try:
            results = query.run(con, sql, params)
        finally:
            con.close()
    except query.QueryError as exc:
        print(f"sql: {exc}", file=sys.stderr)
        return 1
    max_rows = None if args.max_rows <= 0 else args.max_rows
    print("\n\n".join(query.format_result(r, args.format, max_rows) for r in results))
    return 0


def cmd_clay_datacube(args: argparse.Namespace) -> int:
    from shipchips_core.catalog.clay import datacube_command

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
    collect.add_argument("--json", action="store_true",
                         help="no live line: log the counters and end with them as one JSON line (as off a terminal)")
    collect.set_defaults(func=cmd_collect)
    sql = sub.add_parser("sql", help="run SQL over the dataset (views tiles, ais_observations, chips, plan, scenes, stac_items)")
    sql.add_argument("query", nargs="?", help='e.g. "SELECT split, count(*) FROM tiles WHERE mmsi = $mmsi GROUP BY ALL"')
    sql.add_argument("--file", "-f", help="read the SQL from this file instead")
    sql.add_argument("--param", "-p", action="append", default=[], metavar="NAME=VALUE",
                     help='bind $NAME to VALUE (JSON if it parses: 123, 1.5, true, "text"; else the text); repeatable')
    sql.add_argument("--format", choices=("table", "csv", "json"), default="table")
    sql.add_argument("--max-rows", type=int, default=100, help="rows printed per result (0: all)")
    sql.add_argument("--cache-dir", help="where the indexed copy of the tile index lives "
                                         "(default: $SHIPCHIPS_CACHE_DIR or ~/.cache/shipchips)")
    sql.add_argument("--no-cache", action="store_true", help="read the tile index's parquet days, not the indexed copy")
    sql.set_defaults(func=cmd_sql)
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
