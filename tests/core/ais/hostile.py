"""Hypothesis strategies of hostile aisstream frames: what a broken or malicious server could send.

Each frame is a `str` (a text frame) or `bytes` (a binary frame). Kinds: random bytes, random text,
deep nesting (bare and inside an envelope), huge frames, real envelopes with fields given wrong
types, out-of-range or non-finite numbers, impossible times, text that is not Unicode, fields
removed, and error replies (never one of the two documented fatal texts).
"""

from __future__ import annotations

import copy
import json

from hypothesis import strategies as st

FATAL = frozenset({"Api Key Is Not Valid", "Subscription Object Is Malformed"})
TEXT = st.characters(blacklist_categories=("Cs",))  # a text frame must be UTF-8: no lone surrogates

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-(10**40), 10**40), st.floats(allow_nan=True, allow_infinity=True),
    st.text(TEXT, max_size=20),
)
json_values = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(TEXT, max_size=8), inner, max_size=4),
    max_leaves=10,
)
bad_numbers = st.one_of(
    st.sampled_from([10**30, -(10**30), -5, 2**63, -(2**63) - 1, 2**64, 1e308, -1e308, float("inf"), float("-inf"),
                     float("nan"), 91.0001, -181.5, 102.4, 409.6, 512, 16, 10**10]),
    st.floats(allow_nan=True, allow_infinity=True), st.integers(-(10**25), 10**25),
)
not_unicode = st.sampled_from(["\ud800", "SHIP\udfff", "\udc80@@@", "A\ud83dB"])  # lone surrogates
bad_times = st.one_of(
    st.sampled_from(["0001-01-01 00:00:00 +0000 UTC", "9999-12-31 23:59:59.999999999 +0000 UTC",
                     "2026-06-15 10:00:60 +0000 UTC", "2026-02-30 10:00:00 +0000 UTC", "1970-01-01 00:00:00 +0000 UTC",
                     "2026-06-15T10:00:00Z", "2262-04-12 00:00:00 +0000 UTC", ""]),
    st.text(TEXT, max_size=40),
)


def _paths(obj, prefix=()):
    """Every key path of a JSON object (dict keys only: envelopes hold no lists)."""
    for key, value in obj.items():
        yield (*prefix, key)
        if isinstance(value, dict):
            yield from _paths(value, (*prefix, key))


@st.composite
def mutated_envelope(draw, envelopes: list[dict]) -> str:
    """A real envelope with one to three fields replaced by a hostile value or removed."""
    env = copy.deepcopy(draw(st.sampled_from(envelopes)))
    for _ in range(draw(st.integers(1, 3))):
        paths = list(_paths(env))
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent = env
        for key in path[:-1]:
            parent = parent[key]
        leaf = path[-1]
        if draw(st.integers(0, 9)) == 0:
            del parent[leaf]
            continue
        if leaf == "time_utc":
            parent[leaf] = draw(bad_times | json_values)
        elif isinstance(parent[leaf], str):
            parent[leaf] = draw(not_unicode | json_values)
        else:
            parent[leaf] = draw(bad_numbers | json_values)
    return json.dumps(env)  # NaN / Infinity as their literals, surrogates as \ud800 escapes


def deep(depth: int, inside: dict | None) -> str:
    nest = "[" * depth + "]" * depth
    if inside is None:
        return nest
    text = json.dumps(inside)
    return text[:-1] + ', "Extra": ' + nest + "}"


@st.composite
def hostile_frame(draw, envelopes: list[dict]) -> str | bytes:
    kind = draw(st.sampled_from(["bytes", "text", "deep", "huge", "mutated", "mutated", "mutated", "binary_bad_utf8",
                                 "error"]))
    if kind == "bytes":
        return draw(st.binary(max_size=2000))
    if kind == "text":
        return draw(st.text(TEXT, max_size=300))
    if kind == "deep":
        return deep(draw(st.integers(50, 120_000)), draw(st.none() | st.sampled_from(envelopes)))
    if kind == "huge":  # up to ~0.9 MB: under websockets' 1 MiB frame limit
        size = draw(st.integers(100_000, 900_000))
        env = copy.deepcopy(draw(st.sampled_from(envelopes)))
        return draw(st.sampled_from([
            "x" * size,
            json.dumps({**env, "Padding": "p" * size}),
            json.dumps({**env, "MetaData": {**env["MetaData"], "ShipName": "N" * size}}),
        ]))
    if kind == "mutated":
        return draw(mutated_envelope(envelopes))
    if kind == "binary_bad_utf8":
        text = json.dumps(draw(st.sampled_from(envelopes))).encode()
        at = draw(st.integers(0, len(text)))
        return text[:at] + draw(st.sampled_from([b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\x80\x80"])) + text[at:]
    error = draw(st.one_of(st.sampled_from(["monkey patching, try later", "api key rotation soon", "Api Key Is Not Valid ",
                                            "subscription object is malformed", "Internal Error", ""]),
                           st.text(TEXT, max_size=60), json_values).filter(lambda e: not (isinstance(e, str) and e in FATAL)))
    return json.dumps({"error": error})


def hostile_frames(envelopes: list[dict], max_size: int = 8):
    return st.lists(hostile_frame(envelopes), min_size=1, max_size=max_size)
