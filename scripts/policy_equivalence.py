#!/usr/bin/env python3
"""Check that another checkout's policy checker gives exactly this one's reports and verdicts.

    python3 scripts/policy_equivalence.py --baseline /tmp/base      # git archive of main there
    python3 scripts/policy_equivalence.py --baseline /tmp/base --names 5000 --tests tests/policy

Records, in a child running this checkout, every ``registry.policy.check()``
call the policy tests make (their fixtures' SSH, OpenPGP and X.509 keys,
passing and failing, with each call's arguments; a call without ``at`` is
given the time of the call, replayed with it) and the sync's verdict (:func:`registry.index._verdicts.verdict`)
of the keys ``scripts/bench_trust.py`` publishes, with their reports. A child
running the baseline then makes the same calls with the same arguments (pickled;
a call whose arguments cannot be pickled is counted as skipped) and compares:
the report's JSON, its verbose text and ``repr`` of its results, or the
exception raised; the verdict tuples. Any difference is printed and the exit
status is 1.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
#: the evaluation time of the benchmark keys' checks
AT = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)


def outcome(check: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[str, ...]:
    """What a check call gives, as comparable text."""
    try:
        report = check(*args, **kwargs)
    except Exception as exc:
        return ("raised", type(exc).__name__, str(exc))
    return ("report", json.dumps(report.to_dict(), sort_keys=True, default=str),
            report.to_text(verbose=True), repr(report.results))


# ----------------------------------------------------------------- the recording pytest plugin
_CALLS: list[tuple[bytes, tuple[str, ...]]] = []
_SKIPPED = [0]


def _install() -> None:
    import registry.policy as policy

    plain = policy.check

    def check(*args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("at", datetime.now(UTC))  # the instant replayed with the call
        try:
            blob = pickle.dumps((args, kwargs))
            if isinstance(kwargs.get("policy"), os.PathLike):
                raise TypeError("a policy file (may be gone at replay)")
        except Exception:
            _SKIPPED[0] += 1
            return plain(*args, **kwargs)
        _CALLS.append((blob, outcome(plain, args, kwargs)))
        return plain(*args, **kwargs)

    policy.check = check  # type: ignore[assignment]


if os.environ.get("POLICY_EQUIVALENCE_OUT"):  # imported by pytest as a plugin (-p)
    _install()


def pytest_unconfigure(config: Any) -> None:
    with open(os.environ["POLICY_EQUIVALENCE_OUT"], "wb") as f:
        pickle.dump({"calls": _CALLS, "skipped": _SKIPPED[0]}, f)


# ----------------------------------------------------------------------------- children
def bench_jobs(names: int) -> list[tuple[Any, ...]]:
    """The verdict jobs of the keys bench_trust.py publishes (as the sync makes them)."""
    sys.path.insert(0, str(REPO / "scripts"))
    from bench_index import blob

    sys.path.pop(0)
    owner, registry = "0x" + "ab" * 20, "0x" + "cd" * 20
    return [(1, blob(i), f"u{i}@bench.org", b"", owner, 31337, registry, 1, "default", None,
             False) for i in range(names)]


def verdicts(jobs: list[tuple[Any, ...]]) -> list[Any]:
    """Each job's verdict, then its key's report (at :data:`AT`)."""
    import registry.policy as policy
    from registry.index._verdicts import verdict
    from registry.keys._load import load_material

    out = []
    for job in jobs:
        out.append(verdict(*job))
        out.append(outcome(policy.check, (load_material(job[0], job[1]),),
                           {"profile": job[8], "name": job[2], "purposes": job[7],
                            "squatted_by": job[10], "at": AT}))
    return out


def _where(a: Any, b: Any) -> str:
    """The two values around where their reprs first differ."""
    ra, rb = repr(a), repr(b)
    i = next((k for k, (x, y) in enumerate(zip(ra, rb, strict=False)) if x != y),
             min(len(ra), len(rb)))
    lo = max(0, i - 150)
    return f"\n  this:     …{ra[lo:i + 150]}\n  baseline: …{rb[lo:i + 150]}"


def child(mode: str, corpus: Path, names: int) -> int:
    if mode == "record-bench":
        with open(corpus, "wb") as f:
            pickle.dump(verdicts(bench_jobs(names)), f)
        return 0
    # replay: the baseline's checker over the recorded calls
    import registry.policy as policy

    root = Path(policy.__file__).resolve().parents[2]
    if root != Path.cwd().resolve():
        raise SystemExit(f"the replay imported the registry of {root}, not {Path.cwd()}")

    with open(corpus, "rb") as f:
        recorded = pickle.load(f)
    bad = 0
    for i, (blob, want) in enumerate(recorded["calls"]):
        args, kwargs = pickle.loads(blob)
        got = outcome(policy.check, args, kwargs)
        if got != want:
            bad += 1
            if bad <= 5:
                print(f"check call {i} differs:{_where(want, got)}")
    got_v = verdicts(bench_jobs(names))
    for i, (a, b) in enumerate(zip(recorded["bench"], got_v, strict=True)):
        if a != b:
            bad += 1
            if bad <= 10:
                print(f"benchmark key {i // 2} ({'verdict' if i % 2 == 0 else 'report'}) differs:"
                      + _where(a, b))
    print(json.dumps({"calls": len(recorded["calls"]), "skipped": recorded["skipped"],
                      "bench": len(got_v), "differ": bad}))
    return 1 if bad else 0


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        return child(sys.argv[2], Path(sys.argv[3]), int(sys.argv[4]))
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--baseline", type=Path, required=True, help="the other checkout")
    ap.add_argument("--names", type=int, default=5_000, help="benchmark keys (bench_trust.py)")
    ap.add_argument("--tests", nargs="*", default=["tests/policy"],
                    help="pytest paths whose check() calls are recorded")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        calls, bench = Path(tmp) / "calls.pickle", Path(tmp) / "bench.pickle"
        env = {**os.environ, "PYTHONPATH": f"{REPO}{os.pathsep}{REPO / 'scripts'}",
               "POLICY_EQUIVALENCE_OUT": str(calls)}
        proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "policy_equivalence",
                               "-p", "no:cacheprovider", *args.tests], cwd=REPO, env=env,
                              capture_output=True, text=True)
        if proc.returncode != 0:
            print(proc.stdout[-3000:], proc.stderr[-3000:])
            raise SystemExit("the recording test run failed")
        env.pop("POLICY_EQUIVALENCE_OUT")
        subprocess.run([sys.executable, __file__, "--child", "record-bench", str(bench),
                        str(args.names)], env=env, check=True)
        with open(calls, "rb") as f:
            recorded = pickle.load(f)
        with open(bench, "rb") as f:
            recorded["bench"] = pickle.load(f)
        with open(calls, "wb") as f:
            pickle.dump(recorded, f)
        base = args.baseline.resolve()
        # the baseline's registry and tests (the fixtures' stub key classes) come first
        proc = subprocess.run([sys.executable, __file__, "--child", "replay", str(calls),
                               str(args.names)], cwd=base, capture_output=True, text=True,
                              env={**os.environ, "PYTHONPATH": str(base)})
        print(proc.stdout.strip() or proc.stderr[-3000:])
        if proc.returncode != 0:
            print("policy reports or verdicts DIFFER from the baseline's")
            return 1
        print(f"policy reports and verdicts equal the baseline's ({base})")
        return 0


if __name__ == "__main__":
    raise SystemExit(main())
