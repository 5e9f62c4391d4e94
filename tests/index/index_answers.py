"""What an index answers, as JSON (tests/index/test_schema.py: a migrated index answers the same).

    python3 -m tests.index.index_answers INDEX > answers.json

``schema3_answers.json`` holds these answers read with schema-3 keyanchor
from ``schema3.sql`` (the index ``tests.index.test_store._build(path, 12)``
made, plus a name with an OpenPGP-typed record, three fingerprints and two
identities), before schema 4 existed.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from registry.index._query import IndexedRecord, IndexReader

NAMES = ("example.org", "alice@example.org", "bob@example.org")
#: fingerprints asked for: SSH-like text, v4 hex in other spellings, SSH SHA256, unknown
FPS = ("FP0", "FP1", "0123456789abcdef0123456789abcdef01234567", "89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF",
       "SHA256:" + "A" * 43, "nope")

def rec(r: IndexedRecord) -> dict[str, Any]:
    return {**r.to_dict(), "node": r.node.hex(), "material": r.material.hex(), "policy_detail": r.policy_detail,
            "key_type_code": r.key_type, "purposes_code": r.purposes, "reason_code": r.reason}

def answers(path: object) -> Any:
    with IndexReader.open(path) as ix:
        out = {"status": {k: v for k, v in ix.status(now=2000).items() if k != "path"}}
        for n in NAMES:
            recs = ix.records(n, at=2000)
            out[n] = {"history": ix.history(n), "records": [rec(r) for r in recs], "name": ix.name(n),
                      "attestations": [ix.attestations(n, r.index, at=2000) for r in recs],
                      "proofs": [ix.proof(r.node, r.index).hex() for r in recs],
                      "revocations": [ix.revocation(r.node, r.index).hex() for r in recs],
                      "subkeys": [ix.subkey_fingerprints(r.node, r.index) for r in recs],
                      "squatted_by": ix.squatted_by(n), "authorities": ix.authorities(n)}
        out["by_fingerprint"] = {fp: [ix.names_by_fingerprint(fp), [rec(r) for r in ix.records_by_fingerprint(fp, at=2000)]] for fp in FPS}
        out["by_key_id"] = {k: [rec(r) for r in ix.records_by_key_id(k, at=2000)] for k in ("89ABCDEF01234567", "0123456789ABCDEF", "x")}
        out["by_email"] = {e: [rec(r) for r in ix.openpgp_by_email(e, at=2000)] for e in ("bob@example.org", "B2@example.net", "alice@example.org")}
        out["person_names"] = ix.person_names("example.org")
        out["names_with_records"] = [ix.names_with_records(key_type=1), ix.names_with_records(key_type=2, purposes=4)]
        return json.loads(json.dumps(out))

if __name__ == "__main__":
    print(json.dumps(answers(sys.argv[1]), indent=1, sort_keys=True))
