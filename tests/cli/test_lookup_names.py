"""``keyanchor lookup NAME…``: several names at once are each name's own lookup."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.conftest import Run
from tests.cli.test_commands import ok, one_line_error, ssh_key, ssh_proof


@pytest.mark.tools
def test_lookup_of_several_names_is_each_names_lookup(run: Run, env: Path) -> None:
    ok(run("name", "register", "example.org"))
    for host in ("web1.example.org", "web2.example.org"):
        ok(run("name", "assign", host))
        pub = ssh_key(env / host)
        ok(run("key", "publish", host, pub, "--purpose", "ssh-host", "--proof",
               ssh_proof(run, host, pub, env / f"{host}.txt")))
    ok(run("key", "revoke", "web2.example.org", "0", "--reason", "superseded"))
    names = ["web1.example.org", "web2.example.org", "example.org"]
    each = {n: json.loads(ok(run("lookup", n, "--json", "--all")).out) for n in names}
    assert json.loads(ok(run("lookup", *names, "--json", "--all")).out) == each
    assert [len(v) for v in each.values()] == [1, 1, 0]
    # the key formats: every name's lines, in the order given
    both = ok(run("lookup", "web2.example.org", "web1.example.org", "--format", "known-hosts",
                  "--all")).out.splitlines()
    assert both[0].startswith("@revoked web2.example.org ssh-ed25519 ")
    assert both[1].startswith("web1.example.org ssh-ed25519 ") and len(both) == 2
    shown = ok(run("lookup", *names))
    assert "web1.example.org [0]" in shown.out and "web2.example.org [0]" not in shown.out
    text = shown.out + shown.err
    assert "web2.example.org has no active or pending key" in text
    assert "\nexample.org has no active or pending key" in "\n" + text
    one_line_error(run("lookup", "web1.example.org", "nobody.example.org", "--json"),
                   "nobody.example.org is not registered")
    one_line_error(run("lookup", "web1.example.org", "example.org", "--format",
                       "known-hosts"), "example.org")
