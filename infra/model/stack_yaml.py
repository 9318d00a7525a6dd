"""The config of a `Pulumi.<stack>.yaml`, read as the Pulumi CLI reads it.

The CLI (sdk/go/common/workspace/loaders.go, pulumi v3) decodes the file with gopkg.in/yaml.v3
v3.0.1 into plain values, namespaces config keys that have no `:` with the project's name,
and hands each value to the program as a string (sdk/go/common/resource/config/object.go,
`MarshalString`): text as it is, true/false, numbers in JSON form, maps and lists as JSON.
yaml.v3 resolves plain scalars by YAML 1.2's core schema (resolve.go): only true/false (any
case form of the three) are booleans, `yes`/`on` are text; ints are decimal, 0x, 0o, 0b or a
leading-0 octal, `_` ignored; `2026-02-28` is a timestamp; and a repeated key is an error
(decode.go, "mapping key ... already defined").

Stricter than the CLI, each refused with one line naming the file, the line and the key:
a value the CLI would pass in another spelling than it is written (`0x48` is passed as `72`,
`168.0` as `168`, an unquoted date as `2026-02-28 00:00:00 +0000 UTC`), a key without a value
(passed as `null`), explicit tags other than `!!str`, non-text keys, and an alias that
contains itself or expands too far.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

import yaml

from infra.errors import one_line

CONFIG = "config"
SECURE = "secure"
MAX_DEPTH = 64
_STR = "tag:yaml.org,2002:str"
_MAP = "tag:yaml.org,2002:map"
_SEQ = "tag:yaml.org,2002:seq"
_PLAIN = "!plain"  # an untagged plain scalar, resolved below as yaml.v3 resolves it
_MERGE = "<<"
_BOM = b"\xef\xbb\xbf"
_YAML_FLOAT = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?")
_TIMESTAMP_START = re.compile(r"[0-9]{4}-")
_TIMESTAMP_FORMATS = (
    # yaml.v3's allowedTimestampFormats, in Python's terms (Go's one-digit fields included).
    re.compile(
        r"(?P<y>[0-9]{4})-(?P<m>[0-9]{1,2})-(?P<d>[0-9]{1,2})[Tt](?P<H>[0-9]{1,2}):"
        r"(?P<M>[0-9]{1,2}):(?P<S>[0-9]{1,2})(?:\.[0-9]{1,9})?(?:Z|[+-][0-9]{2}:[0-9]{2})"
    ),
    re.compile(
        r"(?P<y>[0-9]{4})-(?P<m>[0-9]{1,2})-(?P<d>[0-9]{1,2}) (?P<H>[0-9]{1,2}):"
        r"(?P<M>[0-9]{1,2}):(?P<S>[0-9]{1,2})(?:\.[0-9]{1,9})?"
    ),
    re.compile(r"(?P<y>[0-9]{4})-(?P<m>[0-9]{1,2})-(?P<d>[0-9]{1,2})"),
)
_NULLS = frozenset({"", "~", "null", "Null", "NULL"})
_TRUE = frozenset({"true", "True", "TRUE"})
_FALSE = frozenset({"false", "False", "FALSE"})
_SPECIAL_FLOATS = frozenset(
    {".nan", ".NaN", ".NAN", ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF"}
    | {"-.inf", "-.Inf", "-.INF"}
)


class StackYamlError(ValueError):
    """The file is not a stack file the CLI would read as written; one line, without the file's
    name (the caller adds it)."""


class _Loader(yaml.SafeLoader):
    """PyYAML's parser and composer only: every untagged plain scalar is tagged _PLAIN and
    resolved by `_resolve` below, as yaml.v3 resolves it."""


_Loader.yaml_implicit_resolvers = {}
_Loader.add_implicit_resolver(_PLAIN, re.compile(r".*", re.DOTALL), None)


@dataclass(frozen=True)
class _Timestamp:
    text: str


def config_strings(content: bytes, project: str) -> dict[str, str]:
    """The config map (full key -> string) the Pulumi CLI would give the program."""
    if content.startswith(_BOM):
        content = content[len(_BOM) :]
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise StackYamlError(
            f"not UTF-8 text (byte {content[exc.start]:#04x} at offset {exc.start}); "
            "save it as UTF-8"
        ) from None
    try:
        root = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        where = f" at line {exc.problem_mark.line + 1}" if exc.problem_mark else ""
        raise StackYamlError(f"not readable YAML ({exc.problem or exc.context}{where})") from None
    except yaml.YAMLError as exc:
        raise StackYamlError(f"not readable YAML ({one_line(exc, type(exc).__name__)})") from None
    except RecursionError:
        raise StackYamlError("not readable YAML (nested too deeply)") from None
    if root is None or _is_null(root):
        return {}
    if not isinstance(root, yaml.MappingNode):
        raise StackYamlError(f"expected a mapping with a '{CONFIG}' key, not {_kind(root)}")
    decoder = _Decoder()
    config_node = decoder.entries(root).get(CONFIG)
    if config_node is None or _is_null(config_node):
        return {}
    if not isinstance(config_node, yaml.MappingNode):
        raise StackYamlError(f"'{CONFIG}' must be a mapping of keys to values")
    config: dict[str, str] = {}
    lines: dict[str, int] = {}
    for key, value_node in decoder.entries(config_node).items():
        line = value_node.start_mark.line + 1
        full = key if ":" in key else f"{project}:{key}"
        if full in config:
            raise StackYamlError(
                f"line {line}: {key} is the key of line {lines[full]} again ({full}: the "
                f"Pulumi CLI reads a key without a namespace as {project}:KEY)"
            )
        lines[full] = line
        config[full] = decoder.config_string(full, value_node)
    return config


class _Decoder:
    """Turns composed nodes into values as yaml.v3 does, counting work as it does to refuse a
    document that aliases expand too far (decode.go, allowedAliasRatio)."""

    def __init__(self) -> None:
        self.decoded = 0
        self.aliased = 0
        self._open: set[int] = set()
        self._seen: set[int] = set()

    def entries(self, node: yaml.MappingNode) -> dict[str, yaml.Node]:
        """A mapping's keys (as text) and value nodes; merges (`<<`) filled in after."""
        found: dict[str, yaml.Node] = {}
        raw: dict[str, int] = {}
        merges: list[yaml.Node] = []
        for key_node, value_node in node.value:
            is_plain = isinstance(key_node, yaml.ScalarNode) and key_node.tag == _PLAIN
            if is_plain and key_node.value == _MERGE:
                merges.append(value_node)
                continue
            key = self._key(key_node)
            line = key_node.start_mark.line + 1
            if key_node.value in raw:
                raise StackYamlError(
                    f"line {line}: key {key_node.value!r} is already set on line "
                    f"{raw[key_node.value]} (the Pulumi CLI refuses a repeated key)"
                )
            raw[key_node.value] = line
            found[key] = value_node
        for merge in merges:
            sources = merge.value if isinstance(merge, yaml.SequenceNode) else [merge]
            for source in sources:
                if not isinstance(source, yaml.MappingNode):
                    raise StackYamlError(
                        f"line {source.start_mark.line + 1}: '<<' merges a mapping or a list "
                        "of mappings"
                    )
                for key, value in self.entries(source).items():
                    found.setdefault(key, value)
        return found

    def _key(self, node: yaml.Node) -> str:
        if not isinstance(node, yaml.ScalarNode):
            raise StackYamlError(f"line {node.start_mark.line + 1}: a key must be text")
        value = self._scalar(node, "a key")
        if value is None or isinstance(value, _Timestamp | float):
            raise StackYamlError(f"line {node.start_mark.line + 1}: a key must be text")
        return _json_scalar(value) if not isinstance(value, str) else value

    def config_string(self, key: str, node: yaml.Node) -> str:
        """The string the CLI passes for one config value."""
        value = self.value(node, key, depth=0)
        if value is None:
            raise StackYamlError(
                f"line {node.start_mark.line + 1}: {key} has no value (the Pulumi CLI would "
                "pass the text null); give one, or remove the key"
            )
        if isinstance(value, str):
            return value
        if isinstance(value, dict | list):
            return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return _json_scalar(value)

    def value(self, node: yaml.Node, key: str, depth: int) -> object:
        if depth > MAX_DEPTH:
            raise StackYamlError(f"{key}: nested more than {MAX_DEPTH} levels deep")
        identity = id(node)
        if identity in self._open:
            raise StackYamlError(
                f"line {node.start_mark.line + 1}: {key}: an alias refers to the value that "
                "contains it"
            )
        self.decoded += 1
        if identity in self._seen:
            self.aliased += 1
            ratio = self.aliased / self.decoded
            if self.aliased > 100 and self.decoded > 1000 and ratio > _allowed(self.decoded):
                raise StackYamlError(f"{key}: aliases expand it too far")
        self._seen.add(identity)
        if isinstance(node, yaml.ScalarNode):
            scalar = self._scalar(node, key)
            if isinstance(scalar, _Timestamp):
                raise StackYamlError(
                    f"line {node.start_mark.line + 1}: {key}: {scalar.text} is read by the "
                    f"Pulumi CLI as a timestamp, not as this text; quote it: '{scalar.text}'"
                )
            return scalar
        self._open.add(identity)
        try:
            if isinstance(node, yaml.SequenceNode):
                if node.tag != _SEQ:
                    raise _tag_error(node, key)
                return [self.value(item, key, depth + 1) for item in node.value]
            if node.tag != _MAP:
                raise _tag_error(node, key)
            entries = self.entries(node)
            if set(entries) == {SECURE}:
                raise StackYamlError(
                    f"{key} is a secret; no config value of this project is secret: "
                    "set it in plain text"
                )
            return {name: self.value(item, key, depth + 1) for name, item in entries.items()}
        finally:
            self._open.discard(identity)

    def _scalar(self, node: yaml.ScalarNode, key: str) -> object:
        if node.tag == _STR:
            return node.value
        if node.tag != _PLAIN:
            raise _tag_error(node, key)
        value = _resolve(node.value)
        if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
            raise StackYamlError(
                f"line {node.start_mark.line + 1}: {key}: {node.value} is not a number the "
                "Pulumi CLI can pass; quote it for text"
            )
        if isinstance(value, int | float) and not isinstance(value, bool):
            passed = _json_scalar(value)
            if passed != node.value:
                raise StackYamlError(
                    f"line {node.start_mark.line + 1}: {key}: {node.value} is read by the "
                    f"Pulumi CLI as the number {passed}; write {passed}, or quote it for text"
                )
        return value


def _resolve(text: str) -> object:
    """A plain scalar's value by yaml.v3's resolve(): None, bool, int, float, a _Timestamp or
    the text itself."""
    if text in _NULLS:
        return None
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    if text in _SPECIAL_FLOATS:
        return math.nan if "n" in text.lower() else (-math.inf if text[0] == "-" else math.inf)
    if not text or not (text[0].isdigit() or text[0] in "+-."):
        return text
    if text[0] != "." and _TIMESTAMP_START.match(text) and _is_timestamp(text):
        return _Timestamp(text)
    plain = text.replace("_", "")
    number = _go_int(plain)
    if number is not None:
        return number
    if _YAML_FLOAT.fullmatch(plain):
        try:
            return float(plain)
        except (ValueError, OverflowError):
            return text
    for prefix, base in (("0b", 2), ("-0b", 2), ("0o", 8), ("-0o", 8)):
        if plain.startswith(prefix):
            try:
                return int(plain[len(prefix) :], base) * (-1 if prefix[0] == "-" else 1)
            except ValueError:
                return text
    return text


_DIGITS = {2: "01", 8: "01234567", 10: "0123456789", 16: "0123456789abcdefABCDEF"}


def _go_int(text: str) -> int | None:
    """Go's strconv.ParseInt(text, 0, 64), else ParseUint(text, 0, 64): an optional sign, then
    a 0x, 0o or 0b prefix, a leading-0 octal, or decimal digits."""
    sign, body = (-1, text[1:]) if text[:1] == "-" else (1, text[1:] if text[:1] == "+" else text)
    base, digits = 10, body
    if body[:2].lower() in ("0x", "0o", "0b"):
        base, digits = {"x": 16, "o": 8, "b": 2}[body[1].lower()], body[2:]
    elif len(body) > 1 and body[0] == "0":
        base, digits = 8, body[1:]
    if not digits or any(ch not in _DIGITS[base] for ch in digits):
        return None
    value = sign * int(digits, base)
    return value if -(2**63) <= value <= 2**64 - 1 else None


def _is_timestamp(text: str) -> bool:
    for pattern in _TIMESTAMP_FORMATS:
        match = pattern.fullmatch(text)
        if match is None:
            continue
        parts = match.groupdict()
        try:
            datetime(
                int(parts["y"]),
                int(parts["m"]),
                int(parts["d"]),
                int(parts.get("H") or 0),
                int(parts.get("M") or 0),
                int(parts.get("S") or 0),
            )
        except ValueError:  # 2026-02-30: Go's time.Parse refuses it too, so it stays text
            continue
        return True
    return False


def _json_scalar(value: object) -> str:
    """A scalar as Go's encoding/json writes it (what the CLI passes for a number or a bool):
    floats in their shortest digits, fixed-point from 1e-6 to 1e21, else as 1e+21 or 1e-7."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        exact = Decimal(repr(value)).normalize()
        if value == 0 or 1e-6 <= abs(value) < 1e21:
            return format(exact, "f")
        sign, digits, exponent = exact.as_tuple()
        text = "".join(str(d) for d in digits)
        mantissa = text[0] + (f".{text[1:]}" if len(text) > 1 else "")
        power = exponent + len(digits) - 1
        shown = f"+{power:02d}" if power >= 0 else f"-{-power}"
        return f"{'-' if sign else ''}{mantissa}e{shown}"
    return str(value)


def _allowed(decoded: int) -> float:
    low, high = 400_000, 4_000_000
    if decoded <= low:
        return 0.99
    if decoded >= high:
        return 0.10
    return 0.99 - 0.89 * (decoded - low) / (high - low)


def _tag_error(node: yaml.Node, key: str) -> StackYamlError:
    tag = node.tag.replace("tag:yaml.org,2002:", "!!")
    return StackYamlError(
        f"line {node.start_mark.line + 1}: {key}: the tag {tag} is not taken here; write the "
        "value plainly (quote it for text)"
    )


def _is_null(node: yaml.Node) -> bool:
    return isinstance(node, yaml.ScalarNode) and node.tag == _PLAIN and node.value in _NULLS


def _kind(node: yaml.Node) -> str:
    if isinstance(node, yaml.SequenceNode):
        return "a list"
    return "a single value"
