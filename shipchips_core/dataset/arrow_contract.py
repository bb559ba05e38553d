"""A pandera schema's checks applied to an Arrow batch with Arrow compute: the same contract, per batch.

Streaming a world day means validating millions of rows batch by batch; pandera's pandas backend
spends most of that time checking that every text value is a `str`, one Python call per value. An
Arrow batch's types say that at once, so this module reads the checks off the pandera schema itself
(column order and presence, dtype, nullability, `in_range` / `ge` / `isin` / `str_length`, and
`utf8_text`, which Arrow strings meet by construction) and evaluates them column-wise. A check it
does not know sends the batch to pandera instead, so no rule of the schema is ever skipped.
Failures are reported as `schemas.validate` reports them (`SchemaViolation`, column, check, row, value).
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from shipchips_core.dataset import schemas

MAX_LISTED = 20


def validate_batch(table_name: str, table: pa.Table, to_pandas=None) -> None:
    """Raise SchemaViolation unless `table` meets the pandera schema `table_name`. `to_pandas()` gives
    the batch as the frame pandera would see, for a schema with a check this module cannot evaluate.
    Text may be dictionary-encoded: its checks are evaluated on the distinct words."""
    schema = schemas.SCHEMAS[table_name]
    if not _understood(schema):
        schemas.validate(table_name, to_pandas() if to_pandas else table.to_pandas())
        return
    failures: list[tuple[str, str, object, object]] = []
    if table.column_names != list(schema.columns):
        failures.append(("<columns>", "strict/ordered", None, table.column_names))
    for name, column in schema.columns.items():
        if name in table.column_names:
            failures += _column_failures(name, column, table.column(name))
    if failures:
        lines = [f"  column={c} check={k} row={r} value={v!r}" for c, k, r, v in failures[:MAX_LISTED]]
        more = f"\n  ... and {len(failures) - MAX_LISTED} more" if len(failures) > MAX_LISTED else ""
        raise schemas.SchemaViolation(f"table {table_name!r} violates its schema ({len(failures)} failures):\n"
                                      + "\n".join(lines) + more)


def _understood(schema) -> bool:
    known = {"in_range", "greater_than", "greater_than_or_equal_to", "isin", "str_length", "utf8_text"}
    return not schema.checks and all(c.name in known for col in schema.columns.values() for c in col.checks) \
        and all(col.dtype is not None and _arrow_kind(str(col.dtype)) for col in schema.columns.values())


def _arrow_kind(dtype: str):
    """The Arrow type test for a pandera dtype name, or None where this module has none."""
    return {
        "int64": pa.types.is_int64, "Int64": pa.types.is_int64, "float64": pa.types.is_float64,
        "str": _is_text, "object": _is_text, "bool": pa.types.is_boolean,
        "datetime64[ns, UTC]": lambda t: pa.types.is_timestamp(t) and t.tz in ("UTC", "+00:00"),
    }.get(dtype)


def _is_text(t: pa.DataType) -> bool:
    if pa.types.is_dictionary(t):  # dictionary-encoded text (a writer's low-cardinality columns)
        return _is_text(t.value_type)
    return pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_null(t)


def _column_failures(name: str, column, values: pa.ChunkedArray) -> list[tuple]:
    if not _arrow_kind(str(column.dtype))(values.type):
        return [(name, f"dtype('{column.dtype}')", None, str(values.type))]
    out = []
    if not column.nullable and values.null_count:
        out += _rows(name, "not_nullable", pc.is_null(values), values)
    for check in column.checks:
        bad = (_bad_coded if pa.types.is_dictionary(values.type) else _bad)(check, values)
        if bad is not None:
            out += _rows(name, _describe(check), bad, values)
    return out


def _bad_coded(check, values: pa.ChunkedArray):
    """`_bad` of dictionary-encoded values: the check on each chunk's distinct words, spread to its rows."""
    chunks = []
    for chunk in values.chunks:
        bad = _bad(check, chunk.dictionary)
        if bad is None:
            return None
        chunks.append(pc.take(bad, chunk.indices))
    return pa.chunked_array(chunks, pa.bool_())


def _bad(check, values: pa.ChunkedArray):
    """Mask of the values failing `check` (nulls never fail a value check), None for a text check."""
    s = check.statistics
    if check.name == "in_range":
        low = (pc.greater_equal if s["include_min"] else pc.greater)(values, s["min_value"])
        high = (pc.less_equal if s["include_max"] else pc.less)(values, s["max_value"])
        ok = pc.and_(low, high)
    elif check.name == "greater_than_or_equal_to":
        ok = pc.greater_equal(values, s["min_value"])
    elif check.name == "greater_than":
        ok = pc.greater(values, s["min_value"])
    elif check.name == "isin":
        ok = pc.is_in(values, value_set=pa.array(list(s["allowed_values"]), values.type))
    elif check.name == "str_length":
        length = pc.utf8_length(values)
        ok = pc.and_(pc.greater_equal(length, s.get("min_value") or 0), pc.less_equal(length, s.get("max_value") or 2**62))
    else:  # utf8_text: an Arrow string is valid UTF-8 by construction
        return None
    if pa.types.is_floating(values.type):
        ok = pc.or_(ok, pc.is_nan(values)) if check.name != "isin" else ok  # NaN is pandas' missing value
    return pc.invert(pc.fill_null(ok, True))


def _rows(name: str, check: str, bad, values) -> list[tuple]:
    rows = pc.indices_nonzero(pc.fill_null(bad, False)) if isinstance(bad, pa.Array) \
        else pc.indices_nonzero(pa.concat_arrays(bad.chunks) if bad.num_chunks else pa.array([], pa.bool_()))
    picked = rows.slice(0, MAX_LISTED).to_pylist()
    taken = values.take(pa.array(picked, pa.int64())).to_pylist() if picked else []
    return [(name, check, r, v) for r, v in zip(picked, taken)] + [(name, check, None, None)] * (len(rows) - len(picked))


def _describe(check) -> str:
    s = check.statistics
    if check.name == "in_range":
        return f"in_range({s['min_value']}, {s['max_value']})"
    if check.name in ("greater_than", "greater_than_or_equal_to"):
        return f"{check.name}({s['min_value']})"
    return check.name
