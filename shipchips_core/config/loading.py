"""YAML + `SHIPCHIPS__SECTION__KEY` overrides → a validated `Config`; secrets from the environment or `.env`.

Values are coerced to each field's annotated type, recursively through the section dataclasses, and
every error names the dotted key (`chips.gating.max_cloud_fraction`, `areas[0].bbox`).
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import types
import typing
from pathlib import Path

import yaml

from shipchips_core.config.root import Config
from shipchips_core.config.validation import ConfigError

CONFIG_ENV = "SHIPCHIPS_CONFIG"
OVERRIDE_PREFIX = "SHIPCHIPS__"


def load_config(path: str | os.PathLike | None = None, environ: typing.Mapping[str, str] | None = None) -> Config:
    """Load `path` (or $SHIPCHIPS_CONFIG, or ./config.yaml if present), apply env overrides, validate."""
    environ = os.environ if environ is None else environ
    if path is None:
        path = environ.get(CONFIG_ENV) or ("config.yaml" if Path("config.yaml").exists() else None)
    data: dict = {}
    if path is not None:
        text = Path(path).read_text()
        try:
            data = yaml.safe_load(text) or {}
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    data = _apply_env_overrides(data, environ)
    return _build("", Config, data)


def missing_secret(name: str, env_file: str | os.PathLike = ".env") -> str:
    """Where to put a secret that is not set (never its value: there is none)."""
    return (f"{name} is not set. Put it in the environment (export {name}=...) or in "
            f"{Path(env_file).resolve()} as a line {name}=... ; an aisstream.io key is free after signing in")


def load_secret(name: str, env_file: str | os.PathLike = ".env") -> str | None:
    """A secret from the environment, else from `.env`; never logged or stored."""
    if os.environ.get(name):
        return os.environ[name]
    if Path(env_file).exists():
        from dotenv import dotenv_values

        return dotenv_values(env_file).get(name) or None
    return None


def _apply_env_overrides(data: dict, environ: typing.Mapping[str, str]) -> dict:
    for env_key, raw in sorted(environ.items()):
        if not env_key.startswith(OVERRIDE_PREFIX):
            continue
        path = [p.lower() for p in env_key[len(OVERRIDE_PREFIX) :].split("__")]
        node = data
        for part in path[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"{env_key} overrides a non-mapping key {'.'.join(path)!r}")
        node[path[-1]] = yaml.safe_load(raw)
    return data


def _unknown_key(prefix: str, key: str, value: typing.Any, names: set[str]) -> str:
    """Advice for a mistyped key: its value, the closest known key and every key allowed there."""
    close = difflib.get_close_matches(str(key), sorted(names), n=1)
    hint = f" Did you mean {_join(prefix, close[0])!r}?" if close else ""
    where = f" under {prefix!r}" if prefix else ""
    return (f"unknown config key {_join(prefix, key)!r} = {value!r}.{hint} "
            f"Allowed keys{where}: {', '.join(sorted(names))}")


def _build(prefix: str, cls: type, data: typing.Any) -> typing.Any:
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{prefix or 'config'} must be a mapping, got {data!r}")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    for unknown in sorted(set(data) - names):
        raise ConfigError(_unknown_key(prefix, unknown, data[unknown], names))
    kwargs = {name: _coerce(_join(prefix, name), hints[name], value) for name, value in data.items()}
    obj = cls(**kwargs)
    validate = getattr(obj, "validate", None)
    if validate:
        validate(prefix)
    return obj


def _coerce(key: str, tp: typing.Any, value: typing.Any) -> typing.Any:
    """Turn a YAML value into the annotated type, or raise ConfigError naming `key`."""
    if dataclasses.is_dataclass(tp):
        return _build(key, tp, value)
    if typing.get_origin(tp) is tuple:
        return _coerce_tuple(key, tp, value)
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        return value
    scalar = _SCALARS.get(tp)
    return scalar(key, value) if scalar else value


def _coerce_tuple(key: str, tp: typing.Any, value: typing.Any) -> tuple:
    if not isinstance(value, (list, tuple)):
        raise ConfigError(f"{key} must be a list, got {value!r}")
    args = typing.get_args(tp)
    if len(args) == 2 and args[1] is Ellipsis:
        return tuple(_coerce(f"{key}[{i}]", args[0], v) for i, v in enumerate(value))
    if len(args) != len(value):
        raise ConfigError(f"{key} must have {len(args)} items, got {len(value)}")
    return tuple(_coerce(f"{key}[{i}]", a, v) for i, (a, v) in enumerate(zip(args, value)))


def _bool(key: str, value: typing.Any) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"{key} must be true or false, got {value!r}")
    return value


def _int(key: str, value: typing.Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{key} must be an integer, got {value!r}")
    return value


def _float(key: str, value: typing.Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"{key} must be a number, got {value!r}")
    return float(value)


def _str(key: str, value: typing.Any) -> str:
    if not isinstance(value, (str, int, float)) or isinstance(value, bool):
        raise ConfigError(f"{key} must be a string, got {value!r}")
    return str(value)


_SCALARS = {bool: _bool, int: _int, float: _float, str: _str}


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name
