#!/usr/bin/env python3
"""The floor for ``keyanchor-ssh authorized-keys USER``: the same query and output, stdlib only.

    python3 scripts/ak_floor.py /var/lib/keyanchor/index.sqlite alice alice@example.org

Opens the index read-only and immutable, runs the query the sshd path runs
for one name's ssh-user records, keeps the active, policy-passing ones and
prints their authorized_keys lines. None of keyanchor's checks: no config,
StrictModes, staleness, name grammar, squatting rule, commitment re-hash or
key parsing -- what is left of a login when every check is taken away
(``scripts/bench_index.py`` times keyanchor against it).
"""
import binascii
import sqlite3
import sys
import time

index, user, name = sys.argv[1:4]
conn = sqlite3.connect(f"file:{index}?mode=ro&immutable=1", uri=True)
now = time.time()
rows = conn.execute(
    "SELECT r.material, r.purposes, r.valid_from, r.valid_until, r.revoked_at, r.policy"
    " FROM names n JOIN records r ON r.name_id = n.id"
    " WHERE n.name = ? AND r.key_type = 1 AND (r.purposes & 1) = 1 ORDER BY r.idx", (name,))
out = []
for material, purposes, valid_from, valid_until, revoked_at, policy in rows:
    if revoked_at or policy != "pass" or valid_from > now or (valid_until and valid_until <= now):
        continue
    n = int.from_bytes(material[:4], "big")
    line = (material[4:4 + n].decode("ascii") + " "
            + binascii.b2a_base64(material, newline=False).decode("ascii") + " " + name)
    if purposes & 64:
        line = f'cert-authority,principals="{user}" ' + line
    out.append(line + "\n")
sys.stdout.write("".join(out))
