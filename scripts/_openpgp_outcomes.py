"""Print one JSON line per input: what a checkout's OpenPGP loader makes of it.

    python3 scripts/_openpgp_outcomes.py /path/to/checkout inputs.pickle > out.jsonl

Run by ``scripts/bench_keys_openpgp.py --baseline DIR`` on the baseline checkout and on
this one, with the same inputs, so that the two outputs can be compared line by line.
``inputs.pickle`` holds a list of ``(label, data, deep)``: every input's outcome is its
error (class and message) or, per certificate, every field a caller reads (repr,
``to_dict``, identities, subkeys, signatures, packets, pickling, armor, the packet scan's
summary); ``deep`` adds the ``default`` and ``strict`` policy reports at a fixed time.
Only the checkout named is imported (it goes first on ``sys.path``).
"""

from __future__ import annotations

import json
import pickle
import sys
import warnings
from datetime import UTC, datetime
from typing import Any

AT = datetime(2027, 3, 1, tzinfo=UTC)  # a fixed evaluation time for the policy reports


def _fields(cert: Any, deep: bool) -> list[Any]:
    from registry.keys._openpgp import render_openpgp_armor
    from registry.keys._pgp_packets import scan_certificate

    clone = pickle.loads(pickle.dumps(cert))
    out: list[Any] = [
        repr(cert), json.dumps(cert.to_dict(), sort_keys=True), cert.identities,
        clone == cert, hash(clone) == hash(cert), repr(clone) == repr(cert),
        render_openpgp_armor(cert), repr(cert.signatures), cert.packets,
        [s.critical_subpackets for s in cert.signatures],
        repr(scan_certificate(cert.material)),
    ]
    if deep:
        from registry.policy import check

        for profile in ("default", "strict"):
            report = check(cert, profile=profile, at=AT)
            out.append(json.dumps(report.to_dict(), sort_keys=True, default=str)
                       if hasattr(report, "to_dict") else repr(report))
    return out


def outcome(data: bytes, deep: bool) -> list[Any]:
    """``["ok", fields per certificate]`` or ``["err", error class, message]``."""
    from registry.keys import load_openpgp_cert, load_openpgp_certs

    try:
        certs = load_openpgp_certs(data)
        try:
            load_openpgp_cert(data)
            one = "one"
        except Exception as exc:  # more than one certificate: that message too
            one = f"{type(exc).__name__}: {exc}"
        return ["ok", one, [_fields(c, deep) for c in certs]]
    except Exception as exc:
        return ["err", f"{type(exc).__module__}.{type(exc).__qualname__}", str(exc)]


def main() -> None:
    tree, inputs = sys.argv[1], sys.argv[2]
    sys.path.insert(0, tree)
    warnings.simplefilter("ignore")
    with open(inputs, "rb") as f:
        items = pickle.load(f)
    for label, data, deep in items:
        print(json.dumps([label, outcome(data, deep)], default=str))


if __name__ == "__main__":
    main()
