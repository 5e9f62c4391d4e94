"""The sshd path's configuration reader gives exactly what tomllib gives, or tomllib's error."""

from __future__ import annotations

import random
import tomllib

import pytest

from registry.gateways import _toml

DOCUMENTED = """\
# /etc/keyanchor/config.toml  (root:root, 0644)
[ssh]
user_template = "{user}@example.org"     # alice -> alice@example.org
users = { root = "admin@example.org" }   # explicit map, checked first
max_staleness = 3600                     # seconds since the last successful sync

[index]
path = "/var/lib/keyanchor/index.sqlite"
owner = "keyanchor-sync"                 # who may own the index besides root (name or uid)
"""

CASES = [
    DOCUMENTED, "", "\n\n", "# only a comment", "a = 1", "a = -0", "a = +7", "a = 01", "a = 1_000",
    "a = 1.5", "a = 1e3", "a = inf", "a = true", "a = trueish", "a = false # x",
    'a = "x\\ty"', "a = 'C:\\\\path'", 'a = """x"""', "a = '''x'''", 'a = "unterminated',
    'a = "tab\there"', 'a = "nul\x00"', "a = 1 # del \x7f", "a = 1 # tab \t ok", "a = [1, 2]",
    "a = {}", "a = { }", "a = { b = 1, }", "a = { b = 1, b = 2 }", "a = { b = { c = 1 } }",
    "a = 1\na = 2", "[a]\n[a]", "[a.b]\n[a]\nc = 1", "[a.b]\n[a]\nb = 1", "[a]\nb = 1\n[a.b]",
    "a = { b = 1 }\n[a.c]", "a = {}\n[a]", "[ a ]\nx = 'y'", "[a . b]", "[a.b.c]\nd = 'e'",
    "[[a]]\nb = 1", "[]", "a.b = 1", '"a" = 1', "a=1", "a =", "= 1", "a = 1 2", "\ufeffa = 1",
    "a = 1\r\nb = 2\r\n", "a = 1\rb = 2", "[ssh]\nusers = { alice = 'alice@example.org', bob = \"b@c.d\" }",
    "a = 'é ü 中'", "é = 1", "a = 99999999999999999999999", "a = 0x10", "a = -", "\ta\t=\t1\t",
    "[a]\n  b = 1\n[c]  # comment\nd = false",
]


def same_as_tomllib(text: str) -> None:
    try:
        want = tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        with pytest.raises(tomllib.TOMLDecodeError):
            _toml.loads(text)
        return
    assert _toml.loads(text) == want, text


@pytest.mark.parametrize("text", CASES)
def test_each_case_reads_as_tomllib_reads_it(text: str) -> None:
    same_as_tomllib(text)


def test_the_documented_config_takes_the_fast_path() -> None:
    assert _toml._plain(DOCUMENTED) == tomllib.loads(DOCUMENTED)


PIECES = ["[ssh]", "[index]", "[a.b]", "[a]", "[ a ]", "[[a]]", "user_template", "users", "a", "b",
          "=", " = ", " ", "\t", '"x"', "'y'", '"a\\nb"', "1", "01", "-5", "+0", "1.0", "true",
          "false", "{", "}", ", ", "{ b = 1 }", "# c", "\x00", "\x7f", "é", ".", "\n", "\n", "\n",
          "\r\n", '"', "'", "[", "]", "_", "-"]


def test_random_texts_read_as_tomllib_reads_them() -> None:
    rng = random.Random(15)
    for _ in range(20_000):
        same_as_tomllib("".join(rng.choice(PIECES) for _ in range(rng.randint(1, 14))))
    lines = ["[ssh]", "[index]", "[ssh.users]", 'user_template = "{user}@example.org"',
             "max_staleness = 600 # s", "allow_unchecked = false", "users = { a = 'b@c.d' }",
             "path = '/x/y'", "owner = 0", "", "# note", "a = { }"]
    for _ in range(5_000):
        same_as_tomllib("\n".join(rng.choice(lines) for _ in range(rng.randint(1, 8))))
