"""An Earth-Search-shaped STAC API (query, sort, fields, token paging) over `scenes.generate_catalog`'s output.

COGs are served under `/data/` by starlette's FileResponse, which answers `Range` with 206 and HEAD as
GDAL's /vsicurl/ needs. `with StacApiTwin(catalog_dir) as api: Client.open(api.url).search(...)`.
"""

from __future__ import annotations

import copy
import json
import operator
import socket
import threading
import time
from datetime import datetime, timezone
from functools import reduce
from pathlib import Path
from urllib.parse import urlencode

import shapely.geometry
import uvicorn
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from shipchips_twin.scenes import load_items
from shipchips_twin.stac_faults import FaultMiddleware, StacFaults

API = "https://api.stacspec.org/v1.0.0"
OGC = "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf"
CONFORMANCE = [f"{API}/core", f"{API}/collections", f"{API}/ogcapi-features", f"{API}/item-search",
               f"{API}/item-search#query", f"{API}/item-search#sort", f"{API}/item-search#fields",
               f"{OGC}/core", f"{OGC}/geojson", f"{OGC}/oas30"]
TITLES = {"sentinel-2-l2a": "Sentinel-2 Level-2A", "sentinel-2-c1-l2a": "Sentinel-2 Collection 1 Level-2A"}
OPS = {"eq": operator.eq, "neq": operator.ne, "lt": operator.lt, "lte": operator.le, "gt": operator.gt,
       "gte": operator.ge, "in": lambda value, refs: value in refs}
DEFAULT_SORT = [("properties.datetime", True), ("id", True), ("collection", True)]  # stac-server's: newest first
ESSENTIAL = ("id", "type", "collection", "stac_version", "links")  # kept whatever `fields` includes
GEOJSON, JSON_TYPE = "application/geo+json", "application/json"


# FileResponse reads and sends 64 KiB at a time, each piece a trip through the event loop; a run of
# COG tiles is megabytes. 1 MiB pieces: the server's CPU for the chip benchmark's 206 MB of ranges
# fell from 0.49 to 0.29 s, CPU the twin takes from the client it shares the machine with (S3 does not).
FILE_CHUNK_BYTES = 1024 * 1024


class CogFiles(StaticFiles):
    """StaticFiles (Range, HEAD, ETag as before) sending files in `FILE_CHUNK_BYTES` pieces."""

    def file_response(self, *args, **kwargs):
        response = super().file_response(*args, **kwargs)
        response.chunk_size = FILE_CHUNK_BYTES  # a NotModifiedResponse ignores it
        return response


class GeoJSONResponse(JSONResponse):
    """JSON as a lenient catalogue writes it: ASCII escapes (a lone surrogate an item was given travels
    as `\\ud800`) and NaN/Infinity allowed, so the fault tests can serve what real catalogues have."""

    media_type = GEOJSON

    def render(self, content) -> bytes:
        return json.dumps(content, ensure_ascii=True, allow_nan=True, separators=(",", ":")).encode("ascii")


class SearchError(ValueError):
    """A malformed search parameter, answered with HTTP 400."""


class _Store:
    """Items in memory, reloaded when an item folder appears (its collection folder's mtime moves)."""

    def __init__(self, catalog_dir: Path):
        self.catalog_dir, self._stamp, self.items = catalog_dir, None, []

    def current(self) -> list[dict]:
        stamp = tuple(sorted((p.name, p.stat().st_mtime_ns) for p in self.catalog_dir.iterdir() if p.is_dir()))
        if stamp != self._stamp:
            self.items, self._stamp = load_items(self.catalog_dir), stamp
            for item in self.items:
                item["_shape"] = shapely.geometry.shape(item["geometry"])
        return self.items

    def collections(self) -> list[str]:  # a collection exists once its folder does
        return sorted(p.name for p in self.catalog_dir.iterdir() if p.is_dir())


# ---- parameters: GET strings and POST JSON → one normalised search --------------------------
def _listish(value) -> list[str] | None:
    return None if value is None else [v for v in value.split(",") if v] if isinstance(value, str) else list(value)


def _jsonish(value, name: str):
    try:
        return json.loads(value) if isinstance(value, str) else value
    except json.JSONDecodeError as exc:
        raise SearchError(f"{name}: not valid JSON ({exc})") from None


def _parse_time(text: str) -> datetime:
    try:
        t = datetime.fromisoformat(text.strip())
    except ValueError:
        raise SearchError(f"datetime: {text!r} is not an RFC 3339 date-time") from None
    return t if t.tzinfo else t.replace(tzinfo=timezone.utc)


def _parse_datetime(value: str | None) -> tuple[datetime | None, datetime | None] | None:
    """A single instant (start == end), a closed interval or an open-ended one (`../end`, `start/..`)."""
    if not value:
        return None
    parts = value.split("/")
    if len(parts) == 1:
        return _parse_time(value), _parse_time(value)
    if len(parts) != 2 or all(p in ("", "..") for p in parts):
        raise SearchError(f"datetime: {value!r} is neither an instant nor an interval")
    start, end = (None if p in ("", "..") else _parse_time(p) for p in parts)
    if start and end and start > end:
        raise SearchError(f"datetime: interval {value!r} ends before it starts")
    return start, end


def _parse_geometry(bbox, intersects):
    if bbox is not None and intersects is not None:
        raise SearchError("bbox and intersects are mutually exclusive")
    if intersects is not None:
        try:
            return shapely.geometry.shape(_jsonish(intersects, "intersects"))
        except (AttributeError, KeyError, TypeError, ValueError, IndexError) as exc:
            raise SearchError(f"intersects: not a GeoJSON geometry ({exc})") from None
    if bbox is None:
        return None
    try:
        box = [float(v) for v in (bbox.split(",") if isinstance(bbox, str) else bbox)]
        west, south, east, north = {4: box, 6: box[:2] + box[3:5]}[len(box)]  # 3D: drop the heights
    except (TypeError, ValueError, KeyError):
        raise SearchError(f"bbox: {bbox!r} is not 4 (or 6) numbers") from None
    if south > north or west > east or south < -90 or north > 90:
        raise SearchError(f"bbox: {box} is not a valid west, south, east, north box")
    return shapely.geometry.box(west, south, east, north)


def _parse_int(value, name: str, low: int, high: int) -> int:
    if not str(value).isdigit() or not low <= int(value) <= high:
        raise SearchError(f"{name}: {value!r} is not an integer in [{low}, {high}]")
    return int(value)


def _parse_sort(value) -> list[tuple[str, bool]]:
    """[(field path, descending)]; GET form `-properties.datetime,+id`, POST form [{field, direction}]."""
    if not value:
        return DEFAULT_SORT
    if isinstance(value, str):
        return [(f.strip().lstrip("+-"), f.strip().startswith("-")) for f in value.split(",") if f.strip()]
    try:
        return [(s["field"], s.get("direction", "asc") == "desc") for s in value]
    except (TypeError, KeyError):
        raise SearchError("sortby: expected [{'field': ..., 'direction': 'asc'|'desc'}]") from None


def _parse_fields(value) -> tuple[list[str], list[str]]:
    """(include, exclude); GET form `id,-assets`, POST form {include: [...], exclude: [...]}."""
    if isinstance(value, str):
        names = [f for f in value.split(",") if f]
        return [f.lstrip("+") for f in names if not f.startswith("-")], [f[1:] for f in names if f.startswith("-")]
    if not isinstance(value or {}, dict):
        raise SearchError("fields: expected {'include': [...], 'exclude': [...]}")
    return list((value or {}).get("include") or []), list((value or {}).get("exclude") or [])


def parse_search(params: dict) -> dict:
    """GET query parameters or a POST body → one normalised search; raises SearchError when malformed."""
    query = _jsonish(params.get("query"), "query") or {}
    if not isinstance(query, dict) or any(not isinstance(ops, dict) or set(ops) - set(OPS) for ops in query.values()):
        raise SearchError(f"query: expected {{property: {{op: value}}}} with op in {sorted(OPS)}")
    return {
        "collections": _listish(params.get("collections")), "ids": _listish(params.get("ids")),
        "geometry": _parse_geometry(params.get("bbox"), params.get("intersects")),
        "datetime": _parse_datetime(params.get("datetime")), "query": query,
        "limit": _parse_int(params.get("limit", 10), "limit", 1, 10_000),
        "offset": _parse_int(params.get("next", 0), "next", 0, 10**9),
        "sortby": _parse_sort(params.get("sortby")), "fields": _parse_fields(params.get("fields")),
    }


# ---- matching and shaping -------------------------------------------------------------------
def _matches(item: dict, search: dict) -> bool:
    if (search["collections"] is not None and item["collection"] not in search["collections"]) or (
            search["ids"] is not None and item["id"] not in search["ids"]) or (
            search["geometry"] is not None and not search["geometry"].intersects(item["_shape"])):
        return False
    start, end = search["datetime"] or (None, None)
    t = _parse_time(item["properties"]["datetime"])
    if (start and t < start) or (end and t > end):
        return False
    for prop, ops in search["query"].items():
        value = item["properties"].get(prop)
        try:
            if value is None or not all(OPS[op](value, ref) for op, ref in ops.items()):
                return False
        except TypeError:
            raise SearchError(f"query: cannot compare {prop} ({value!r}) with {ops}") from None
    return True


def _field(item: dict, path: str):
    node = item if path.split(".")[0] in item else item["properties"]  # "eo:cloud_cover" means a property
    for key in path.split("."):
        node = node.get(key) if isinstance(node, dict) else None
    return node


def run_search(items: list[dict], search: dict) -> list[dict]:
    found = [item for item in items if _matches(item, search)]
    for path, descending in reversed(search["sortby"]):  # stable sorts, least significant key first
        found.sort(key=lambda it: (_field(it, path) is None, _field(it, path)), reverse=descending)
    return found


def publish(item: dict, base: str, include=(), exclude=()) -> dict:
    """An item as served: absolute asset and link hrefs, then the fields extension's include/exclude."""
    out = {k: copy.deepcopy(v) for k, v in item.items() if not k.startswith("_")}
    for entry in [*out["assets"].values(), *out["links"]]:
        entry["href"] = f"{base}/{entry['href']}"
    kept = {} if include else out
    for path in {*include, *ESSENTIAL} if include else ():
        node, target = _walk(out, path), _walk(kept, path, create=True)
        if path.split(".")[-1] in node:
            target[path.split(".")[-1]] = node[path.split(".")[-1]]
    for path in exclude:
        _walk(kept, path).pop(path.split(".")[-1], None)
    return kept


def _walk(node: dict, path: str, create: bool = False) -> dict:
    """The dict holding the last key of a dotted path (made on the way when `create`)."""
    return reduce(lambda n, key: n.setdefault(key, {}) if create else n.get(key, {}), path.split(".")[:-1], node)


def _link(rel: str, href: str, kind: str = JSON_TYPE, **extra) -> dict:
    return {"rel": rel, "href": href, "type": kind, **extra}


# ---- the app --------------------------------------------------------------------------------
def create_app(catalog_dir: str | Path, faults: StacFaults | None = None) -> Starlette:
    catalog_dir = Path(catalog_dir)
    store, base_of = _Store(catalog_dir), lambda request: str(request.base_url).rstrip("/")
    served = faults.damaged if faults is not None else (lambda item: item)

    def collection_doc(cid: str, base: str) -> dict:
        items = [i for i in store.current() if i["collection"] == cid]
        boxes = [i["bbox"] for i in items] or [[-180, -90, 180, 90]]
        times = sorted(i["properties"]["datetime"] for i in items) or [None]
        bbox = [min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes), max(b[3] for b in boxes)]
        return {"type": "Collection", "stac_version": "1.0.0", "id": cid, "title": TITLES.get(cid, cid),
                "description": f"{TITLES.get(cid, cid)} (offline twin of Earth Search v1)", "license": "proprietary",
                "extent": {"spatial": {"bbox": [bbox]}, "temporal": {"interval": [[times[0], times[-1]]]}},
                "links": [_link("self", f"{base}/collections/{cid}"), _link("parent", f"{base}/"),
                          _link("root", f"{base}/"), _link("items", f"{base}/collections/{cid}/items", GEOJSON)]}

    async def landing(request: Request):
        base = base_of(request)
        links = [_link(rel, f"{base}{path}") for rel, path in (
            ("self", "/"), ("root", "/"), ("conformance", "/conformance"), ("data", "/collections"))]
        links += [_link("search", f"{base}/search", GEOJSON, method=m) for m in ("GET", "POST")]
        links += [_link("child", f"{base}/collections/{c}") for c in store.collections()]
        return JSONResponse({"type": "Catalog", "stac_version": "1.0.0", "id": "earth-search-aws",
                             "title": "Earth Search by Element 84 (offline twin)", "description": "Synthetic "
                             "Sentinel-2 L2A scenes of the shipchips world", "conformsTo": CONFORMANCE, "links": links})

    async def collections(request: Request):
        base = base_of(request)
        return JSONResponse({"collections": [collection_doc(c, base) for c in store.collections()],
                             "links": [_link("self", f"{base}/collections"), _link("root", f"{base}/")]})

    def known(cid: str) -> str:
        if cid not in store.collections():
            raise HTTPException(404, f"collection {cid!r} not found")
        return cid

    async def collection(request: Request):
        return JSONResponse(collection_doc(known(request.path_params["cid"]), base_of(request)))

    async def item(request: Request):
        cid, iid = known(request.path_params["cid"]), request.path_params["iid"]
        for it in store.current():
            if it["collection"] == cid and it["id"] == iid:
                return GeoJSONResponse(served(publish(it, base_of(request))))
        raise HTTPException(404, f"item {iid!r} not found in {cid!r}")

    async def search(request: Request):
        try:
            params = await request.json() if request.method == "POST" else dict(request.query_params)
        except json.JSONDecodeError:
            raise SearchError("the request body is not valid JSON") from None
        if not isinstance(params, dict):
            raise SearchError("the request body must be a JSON object")
        if "cid" in request.path_params:  # /collections/{cid}/items: a search bound to one collection
            params["collections"] = [known(request.path_params["cid"])]
        query = parse_search(params)
        found = run_search(store.current(), query)
        start, limit, base = query["offset"], query["limit"], base_of(request)
        page = found[start:start + limit]
        links = [_link("root", f"{base}/")]
        if start + limit < len(found):  # the token is the next offset; POST repeats the whole body
            token, href = str(start + limit), f"{base}{request.url.path}"
            if request.method == "POST":
                links.append(_link("next", href, GEOJSON, method="POST", body={**params, "next": token}))
            else:
                links.append(_link("next", f"{href}?{urlencode({**request.query_params, 'next': token})}", GEOJSON))
        return GeoJSONResponse({
            "type": "FeatureCollection", "stac_version": "1.0.0",
            "features": [served(publish(it, base, *query["fields"])) for it in page], "links": links,
            "numberMatched": len(found), "numberReturned": len(page),
            "context": {"limit": limit, "matched": len(found), "returned": len(page)}})

    async def error(request: Request, exc: Exception):
        status = getattr(exc, "status_code", 400)  # SearchError → 400
        return JSONResponse({"code": {400: "BadRequest", 404: "NotFound"}.get(status, "HTTPError"),
                             "description": str(getattr(exc, "detail", exc))}, status_code=status)

    routes = [Route("/", landing), Route("/conformance", lambda _: JSONResponse({"conformsTo": CONFORMANCE})),
              Route("/collections", collections), Route("/collections/{cid}", collection),
              Route("/collections/{cid}/items", search), Route("/collections/{cid}/items/{iid}", item),
              Route("/search", search, methods=["GET", "POST"]), Mount("/data", app=CogFiles(directory=catalog_dir))]
    return Starlette(routes=routes, exception_handlers={SearchError: error, HTTPException: error})


class StacApiTwin:
    """The STAC API on `host` and a free port (or `port`), served by uvicorn in a daemon thread."""

    def __init__(self, catalog_dir: str | Path, *, host: str = "127.0.0.1", port: int = 0, faults: StacFaults | None = None):
        self.catalog_dir, self.host, self.port, self.faults = Path(catalog_dir), host, port, faults
        self.url: str | None = None  # http://host:port once started
        self._server = self._thread = None

    def start(self, timeout_s: float = 10.0) -> StacApiTwin:
        if self._server is not None:
            return self
        # bind first so the port (0 → a free one) is known before uvicorn runs
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        self.port = sock.getsockname()[1]
        self.url = f"http://{self.host}:{self.port}"
        app = create_app(self.catalog_dir, self.faults)
        if self.faults is not None:
            app = FaultMiddleware(app, self.faults)
        config = uvicorn.Config(app, log_level="warning", access_log=False,
                                lifespan="off", timeout_graceful_shutdown=2)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [sock]},
                                        name=f"stac-twin:{self.port}", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout_s
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                sock.close()
                raise RuntimeError(f"the STAC twin did not start on {self.host}:{self.port}")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True  # uvicorn closes its sockets and open connections
            self._thread.join(timeout=10)
            self._server = self._thread = self.url = None

    def __enter__(self) -> StacApiTwin:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
