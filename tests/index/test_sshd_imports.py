"""The sshd path imports only what it needs (issue 15): the start-up cost cannot creep back.

``keyanchor-ssh`` runs on every login, and almost all of its time beyond a
stdlib script doing the same query is imports (docs/BENCHMARKS.md). The test
runs the console script's entry point for both commands in a clean interpreter
(``-S``: no site packages, no ``.pth`` imports hiding what keyanchor itself
pulls in) and checks that it answered and that none of the modules the sshd
path was freed from -- pathlib (with re, enum, urllib.parse, ipaddress), dataclasses and its inspect/ast/tokenize, typing,
hashlib/OpenSSL, json, tomllib, base64, the key layer's enums, the write side
of the index, web3 and the other third-party libraries -- was imported.
``authorized-keys`` alone (every login) compiles only what it runs when no
bytecode is cached: the slim modules, not the whole reader, key layer, name
layer, settings and record classes or known_hosts side they were split from.
Third-party modules are reached as an installed keyanchor reaches them: the
directory holding safe-pysha3 (the sshd path's Keccak) is on the path, without
its ``.pth`` files.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.index.test_ssh_gateway import world  # noqa: F401 -- the fixture

REPO = Path(__file__).resolve().parents[2]


def _site_dir() -> str:
    """The directory safe-pysha3's C module (``_pysha3``) is installed in."""
    import _pysha3

    return os.path.dirname(_pysha3.__file__)

PROBE = """
import json, sys
before = set(sys.modules)
from cli.ssh_entry import main
rcs = [main(["authorized-keys", "alice"])]
login = sorted(set(sys.modules) - before)
rcs.append(main(["known-hosts", "web1.example.org"]))
print(json.dumps({"rcs": rcs, "new": sorted(set(sys.modules) - before), "login": login}),
      file=sys.stderr)
"""

#: Imported by neither command (each costs more than the lookup, or belongs to another path).
HEAVY = {
    "dataclasses", "inspect", "ast", "tokenize", "dis", "typing", "hashlib", "_hashlib", "json",
    "tomllib", "string", "base64", "copy", "importlib.util", "importlib.resources",
    "registry.keys._common", "registry.keys._load", "registry.keys._ssh_text", "registry.keys._openpgp", "registry.keys._x509",
    "registry.index._store", "registry.index._sync", "registry.config", "registry.policy",
    "registry.chain", "web3", "eth_abi", "Crypto", "cryptography", "idna", "publicsuffixlist",
    "typer", "rich", "pydantic", "pathlib", "urllib", "ipaddress", "fnmatch",
}

#: Not imported by ``authorized-keys`` either: the full modules its slim pieces were split from.
NOT_ON_LOGIN = {
    "registry.keys._ssh", "registry.keys._digest", "registry.index._query",
    "registry.index._lookups", "registry.names", "registry.gateways._ssh_hosts", "re", "enum",
    "registry.gateways.ssh", "registry.index._snapshot", "registry._frozen", "registry._name",
    "registry._idna", "registry.keys._ssh_checks", "functools", "registry.errors",
    "registry.index._schema", "registry.gateways._refusals", "registry._grammar_parse",
    "registry.keys._ssh_formats",
}


def test_sshd_path_imports_nothing_heavy(world: dict[str, Any]) -> None:  # noqa: F811
    env = {**os.environ, "PYTHONPATH": os.pathsep.join((str(REPO), _site_dir()))}
    run = subprocess.run([sys.executable, "-S", "-c", PROBE], capture_output=True, text=True,
                         timeout=60, env=env, cwd=world["config"].parent)
    assert run.returncode == 0, run.stderr
    report = json.loads(run.stderr.strip().splitlines()[-1])
    assert report["rcs"] == [0, 0], run.stderr
    assert len(run.stdout.splitlines()) == 3 + 3, run.stdout  # alice: 3 lines; web1: 3 lines
    new = set(report["new"])
    assert "registry.keys._ssh" in new and "registry.keys._keccak" in new  # parsed and re-hashed
    heavy = sorted(m for m in new if any(m == h or m.startswith(h + ".") for h in HEAVY))
    assert heavy == [], f"the sshd path imports {heavy}"
    login = set(report["login"])
    assert {"registry.gateways._login", "registry.keys._ssh_wire", "registry.keys._keccak",
            "_pysha3", "registry.index._open", "registry._grammar",
            "registry.gateways._modes", "registry._errors_core",
            "registry.index._version"} <= login  # every check still runs
    assert sorted(login & NOT_ON_LOGIN) == [], "authorized-keys imports more than it runs"


def test_login_error_classes_are_registry_errors() -> None:
    """The classes the login raises from ``registry._errors_core`` are ``registry.errors``'
    own: same objects, same names in messages and pickles, every public name still there."""
    import pickle

    import registry._errors_core as core
    import registry.errors as errors

    for name in core.__all__:
        cls = getattr(core, name)
        assert getattr(errors, name) is cls and cls.__module__ == "registry.errors"
    assert all(hasattr(errors, name) for name in errors.__all__)
    assert issubclass(errors.PrivateKeyError, errors.KeyFormatError)
    exc = pickle.loads(pickle.dumps(errors.IndexUnavailable("stale")))
    assert type(exc) is errors.IndexUnavailable and str(exc) == "stale"


LAZY_PROBE = """
import json, sys
from registry._grammar import normal_name
from registry.gateways._toml import loads
from registry.keys._ssh_wire import plain_key_algorithm, render_authorized_line

blob = bytes.fromhex("0000000b7373682d6564323535313900000020") + bytes(range(32))
out = [normal_name("alice@example.org"), loads('[ssh]\\nuser_template = "{user}@example.org"\\n'),
       render_authorized_line(plain_key_algorithm(blob), blob, comment="alice@example.org")]
plain = sorted(sys.modules)
out += [normal_name(" Alice@Example.org. "), loads("[ssh]\\nusers = { root = 'a@b.c' }\\n"),
        render_authorized_line("ssh-ed25519", blob, cert_authority=True, principals=["alice"])]
print(json.dumps({"out": out, "plain": plain, "all": sorted(sys.modules)}))
"""

#: Split off the login's modules, loaded only by what the probe's second half reads (a name
#: not in normal form, an inline table, a line with options).
RARER = {"registry._grammar_parse", "registry.gateways._toml_inline", "registry.keys._ssh_options"}


def test_login_pieces_load_on_first_need() -> None:
    """A name in normal form, a config without an inline table and an Ed25519 key without
    options compile none of the pieces split off for the other cases; those cases still read
    exactly as before."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join((str(REPO), _site_dir()))}
    run = subprocess.run([sys.executable, "-S", "-c", LAZY_PROBE], capture_output=True, text=True,
                         timeout=60, env=env)
    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout)
    assert sorted(RARER & set(report["plain"])) == []
    assert RARER <= set(report["all"])
    line = report["out"][2]
    assert line.startswith("ssh-ed25519 AAAA") and line.endswith(" alice@example.org")
    assert report["out"][3:5] == ["alice@example.org", {"ssh": {"users": {"root": "a@b.c"}}}]
    assert report["out"][5].startswith('cert-authority,principals="alice" ssh-ed25519 AAAA')
