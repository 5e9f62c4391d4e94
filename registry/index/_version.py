"""The index's schema version and the check every reader runs on open (sshd path).

:mod:`registry.index._schema` (the SQL text, fingerprint keys) re-exports these
names and builds the messages; ``keyanchor-ssh authorized-keys`` compiles this
module alone when no bytecode is cached (docs/BENCHMARKS.md).
"""

from __future__ import annotations

__all__ = ["MIGRATED_FROM", "SCHEMA_VERSION", "schema_problem"]

SCHEMA_VERSION = 4  # 2: KeyRegistry v2 (event digest, revocation bytes, blocked attesters)
#                    3: compact event fields (binary, not hex-in-JSON), 16 KiB pages
#                    4: integer name ids, no duplicated events, binary fingerprints, texts
#: Older schema versions the writer (`Store.open`, i.e. the next sync) migrates to this one.
MIGRATED_FROM = ("2", "3")


def schema_problem(found: object, path: object) -> str | None:
    """Why an index whose ``meta`` says schema ``found`` cannot be read, or ``None``.

    One line, for the sshd path and the ``keyanchor index`` commands alike.
    """
    if found == str(SCHEMA_VERSION):
        return None
    from registry.index._schema import schema_mismatch  # the messages: on failure only

    return schema_mismatch(found, path)
