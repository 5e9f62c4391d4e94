"""Rendering shared by the CLI commands: JSON, aligned rows, records, bold on a terminal only.

    emit_json({"a": 1})
    print_rows([("owner", "0x…"), ("parent", None)], title="alice@example.org")

Plain text, never truncated and never padded at the end of a line (an
address is always printed whole, whatever the terminal's width); bold only
when stdout is a terminal and ``NO_COLOR`` is unset. Every JSON timestamp is
ISO 8601 UTC (``2026-01-31T12:00:00Z``); key types, purposes and reasons are
names, never codes.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from enum import Enum
from typing import TYPE_CHECKING, Any, NoReturn

if TYPE_CHECKING:  # pragma: no cover
    from registry.chain.records import HistoryEvent, KeyRecord

__all__ = [
    "bold",
    "emit_json",
    "fail",
    "fmt_time",
    "jsonable",
    "print_records",
    "print_rows",
    "record_rows",
]


def jsonable(value: Any) -> Any:
    """Library values (bytes, datetimes, enums, dataclasses) as JSON values."""
    if hasattr(value, "to_dict"):
        return jsonable(value.to_dict())
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(v) for v in value]
    if isinstance(value, bytes | bytearray | memoryview):
        return "0x" + bytes(value).hex()
    if isinstance(value, datetime):
        return fmt_time(value)
    if hasattr(value, "names") and callable(value.names):  # Purpose flags
        return list(value.names())
    if isinstance(value, Enum):
        label = getattr(value, "label", None)
        if isinstance(label, str):
            return label
        return value.name.lower()
    return value


def fmt_time(value: datetime | None) -> str | None:
    """ISO 8601 UTC with a ``Z`` (``None`` stays ``None``)."""
    if value is None:
        return None
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def emit_json(value: Any) -> None:
    sys.stdout.write(json.dumps(jsonable(value), indent=2) + "\n")


def _styled() -> bool:
    return sys.stdout.isatty() and not os.environ.get("NO_COLOR") and \
        os.environ.get("TERM") != "dumb"


def bold(text: str) -> str:
    """``text`` in bold on a terminal; unchanged when stdout is a file or a pipe."""
    return f"\033[1m{text}\033[0m" if _styled() and text else text


def _cell(value: Any) -> str:
    if value is None or value == "" or value == () or value == []:
        return "-"
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value)
    return " ".join(str(value).split()) if "\n" in str(value) else str(value)


def print_rows(rows: Sequence[tuple[str, Any]], *, title: str | None = None,
               indent: str = "") -> None:
    """Aligned ``key  value`` rows (keys bold on a terminal); values never cut."""
    out = sys.stdout
    if title:
        out.write(indent + bold(title) + "\n")
    width = max((len(k) for k, _ in rows), default=0)
    for key, value in rows:
        pad = " " * (width - len(key) + 2)
        out.write(f"{indent}{bold(key)}{pad}{_cell(value)}".rstrip() + "\n")


def print_table(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """Columns separated by two spaces, the last one never padded; nothing cut."""
    table = [list(header)] + [[_cell(c) if c != "" else "" for c in row] for row in rows]
    widths = [max(len(str(r[i])) for r in table) for i in range(len(header))]
    for n, row in enumerate(table):
        cells = [str(c).ljust(widths[i]) if i < len(row) - 1 else str(c)
                 for i, c in enumerate(row)]
        line = "  ".join(cells).rstrip()
        sys.stdout.write((bold(line) if n == 0 else line) + "\n")


def record_rows(r: KeyRecord) -> list[tuple[str, Any]]:
    """What ``lookup`` shows of a record."""
    key = r.key
    rows: list[tuple[str, Any]] = [
        ("type", r.key_type.label), ("status", r.status),
        ("purposes", ", ".join(r.purposes.names())),
        ("algorithm", f"{key.algorithm} ({key.bits} bits)" if key else None),
        ("fingerprint", key.fingerprint if key else None),
        ("identities", list(key.identities) if key else None),
        ("valid from", fmt_time(r.valid_from)), ("valid until", fmt_time(r.valid_until)),
        ("published", fmt_time(r.published_at)),
    ]
    if r.status == "revoked":
        reason = getattr(r.reason, "label", r.reason)
        rows.append(("revoked", f"{fmt_time(r.revoked_at)} ({reason})"))
    if r.attestations:
        rows.append(("attested by", [a.attester or "0x" + a.attester_node.hex()
                                     for a in r.attestations]))
    return rows


def print_records(name: str, records: Sequence[KeyRecord]) -> None:
    """Records one after another, a blank line between two."""
    for n, r in enumerate(records):
        if n:
            sys.stdout.write("\n")
        print_rows(record_rows(r), title=f"{name} [{r.index}]")


def event_details(ev: HistoryEvent) -> str:
    """An event's fields as ``key=value`` words, by name (never codes)."""
    d = ev.data
    parts = []
    for key in ("owner", "previous", "operator", "approved", "index", "old_index",
                "new_index", "key_type", "purposes", "reason", "attester", "expires", "blocked"):
        if key not in d or d[key] is None:
            continue
        value = jsonable(d[key])
        if key == "attester" and d.get("attester_name"):
            value = d["attester_name"]
        if isinstance(value, list):
            value = ",".join(str(v) for v in value)
        parts.append(f"{key}={value}")
    return " ".join(parts)


def fail(message: str, code: int = 1) -> NoReturn:
    """Print one clean line on stderr and exit."""
    first = " ".join(str(message).split()) or "failed"
    sys.stderr.write(f"keyanchor: error: {first}\n")
    raise SystemExit(code)
