"""Rendering helpers shared by the CLI commands: JSON, key-value tables, errors.

    emit_json({"a": 1})
    fail("name not found")  # one line on stderr, exit 1
"""

from __future__ import annotations

import json
import sys
from datetime import datetime
from enum import Enum
from typing import Any, NoReturn

__all__ = ["emit_json", "fail", "fmt_time", "jsonable", "print_kv"]


def jsonable(value: Any) -> Any:
    """Turn library values (bytes, datetimes, enums, dataclasses) into JSON values."""
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
    if isinstance(value, Enum):
        return value.name.lower() if not isinstance(value.value, int) else value.value
    return value


def fmt_time(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def emit_json(value: Any) -> None:
    sys.stdout.write(json.dumps(jsonable(value), indent=2, sort_keys=False) + "\n")


def print_kv(rows: list[tuple[str, Any]], *, title: str | None = None) -> None:
    """Print aligned ``key: value`` rows with rich (no markup interpretation of values)."""
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    table = Table(show_header=False, box=None, title=title, title_justify="left", pad_edge=False)
    table.add_column(style="bold")
    table.add_column(overflow="fold")
    for key, value in rows:
        if value is None or value == "" or value == ():
            value = "-"
        if isinstance(value, list | tuple):
            value = ", ".join(str(v) for v in value)
        table.add_row(key, Text(str(value)))
    Console(soft_wrap=False).print(table)


def fail(message: str, code: int = 1) -> NoReturn:
    """Print one clean line on stderr and exit."""
    first = " ".join(str(message).split()) or "failed"
    sys.stderr.write(f"keyanchor: error: {first}\n")
    raise SystemExit(code)
