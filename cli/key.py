"""``keyanchor key ...``: inspect key files (publish, revoke and rotate join later).

    $ keyanchor key inspect ~/.ssh/id_ed25519.pub
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cli._output import emit_json, fmt_time, print_kv

app = typer.Typer(help="Inspect and manage keys.", no_args_is_help=True)


def read_input(path: Path) -> bytes:
    """Read a key file (``-`` for stdin) with a size cap; errors become one line."""
    import sys

    from registry.errors import KeyFormatError

    limit = 1 << 20
    try:
        if str(path) == "-":
            data = sys.stdin.buffer.read(limit + 1)
        else:
            with open(path, "rb") as fh:
                data = fh.read(limit + 1)
    except FileNotFoundError as exc:
        raise KeyFormatError(f"{path}: no such file") from exc
    except IsADirectoryError as exc:
        raise KeyFormatError(f"{path}: is a directory") from exc
    except OSError as exc:
        raise KeyFormatError(f"{path}: cannot read ({exc.strerror})") from exc
    if len(data) > limit:
        raise KeyFormatError(f"{path}: larger than 1 MiB, not a key file")
    return data


def key_summary(key: object) -> dict[str, object]:
    """The fields ``key inspect`` shows, as a JSON-ready dict."""
    from registry.keys import Key

    assert isinstance(key, Key)
    summary: dict[str, object] = {
        "type": key.key_type.label,
        "algorithm": key.algorithm,
        "bits": key.bits,
        "fingerprint": key.fingerprint,
        "identities": list(key.identities),
        "valid_from": fmt_time(key.valid_from),
        "valid_until": fmt_time(key.valid_until),
        "commitment": "0x" + key.commitment.hex(),  # type: ignore[attr-defined]
    }
    details = key.to_dict()
    summary["details"] = details
    return summary


@app.command("inspect")
def inspect(
    files: Annotated[list[Path], typer.Argument(help="Key files (- for stdin).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show type, algorithm, size, fingerprints, identities, validity and commitment.

    Reads SSH public keys and certificates, OpenPGP certificates (armored or
    binary) and X.509 certificates (PEM, DER, bundles). Private keys are refused.

    Example: keyanchor key inspect ~/.ssh/id_ed25519.pub --json
    """
    from registry.keys import load_keys

    results = []
    for path in files:
        for key in load_keys(read_input(path)):
            results.append((path, key_summary(key)))
    if as_json:
        emit_json([dict(file=str(p), **s) for p, s in results] if len(results) != 1
                  else dict(file=str(results[0][0]), **results[0][1]))
        return
    for path, s in results:
        rows = [(k, v) for k, v in s.items() if k != "details"]
        print_kv(rows, title=f"{path}")
