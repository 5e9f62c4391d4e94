"""Real git: commits signed with SSH keys verify against `keyanchor ssh allowed-signers` output."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from cli.main import main
from tests.conftest import Anvil, require_tool
from tests.integrations.conftest import Chain, SSHKey, stale_copy

pytestmark = pytest.mark.tools

DAY = 86400


@dataclass
class Repo:
    path: Path
    git: str
    allowed: Path
    revoked: Path

    def run(self, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run([self.git, "-C", str(self.path), *args], capture_output=True, text=True,
                              timeout=60, env={**os.environ, "LC_ALL": "C", **(env or {})})

    def commit(self, key: SSHKey, email: str, *, when: int | None = None) -> str:
        """A commit signed with ``key`` claiming author/committer ``email``; returns its id."""
        stamp = {} if when is None else {"GIT_COMMITTER_DATE": f"@{when} +0000",
                                         "GIT_AUTHOR_DATE": f"@{when} +0000"}
        (self.path / "file").write_text(f"{email} {time.time_ns()}\n")
        self.run("add", "file")
        done = self.run("-c", f"user.email={email}", "-c", "user.name=Someone",
                        "-c", f"user.signingkey={key.private}", "commit", "-q", "-S", "-m", email,
                        env=stamp)
        assert done.returncode == 0, done.stderr
        return self.run("rev-parse", "HEAD").stdout.strip()

    def verify(self, rev: str) -> subprocess.CompletedProcess[str]:
        return self.run("verify-commit", rev)

    def ssh_verify(self, rev: str, principal: str) -> subprocess.CompletedProcess[str]:
        """``ssh-keygen -Y verify`` of commit ``rev``'s signature for ``principal``."""
        raw = self.run("cat-file", "commit", rev).stdout
        head, _, message = raw.partition("\n\n")
        payload, sig, in_sig = [], [], False
        for line in head.split("\n"):
            if line.startswith("gpgsig "):
                in_sig = True
                sig.append(line[len("gpgsig "):])
            elif in_sig and line.startswith(" "):
                sig.append(line[1:])
            else:
                in_sig = False
                payload.append(line)
        sig_file = self.path.parent / "commit.sig"
        sig_file.write_text("\n".join(sig) + "\n")
        return subprocess.run([require_tool("ssh-keygen"), "-Y", "verify", "-n", "git", "-f",
                               str(self.allowed), "-I", principal, "-s", str(sig_file)],
                              input="\n".join(payload) + "\n\n" + message, capture_output=True,
                              text=True, timeout=30)

    def signer(self, rev: str) -> str:
        return self.run("log", "-1", "--format=%G?|%GS", rev).stdout.strip()


@pytest.fixture
def repo(tmp_path: Path) -> Repo:
    git = require_tool("git")
    require_tool("ssh-keygen")
    path = tmp_path / "repo"
    subprocess.run([git, "init", "-q", str(path)], check=True, capture_output=True, timeout=60)
    allowed, revoked = tmp_path / "allowed_signers", tmp_path / "revoked_signers"
    r = Repo(path, git, allowed, revoked)
    for key, value in (("gpg.format", "ssh"), ("gpg.ssh.allowedSignersFile", str(allowed)),
                       ("gpg.ssh.revocationFile", str(revoked)), ("commit.gpgsign", "false")):
        r.run("config", key, value)
    return r


@pytest.fixture(scope="module")
def chain(embedded: Chain) -> Chain:
    reg = embedded.reg
    reg.register("example.org")
    for name in ("alice", "bob", "carol", "dave", "mallory"):
        reg.assign(f"{name}@example.org", reg.account.address)
    return embedded


@pytest.fixture
def cli(chain: Chain, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Any:
    monkeypatch.setenv("KEYANCHOR_INDEX", str(chain.index))

    def run(*args: str) -> tuple[int, str, str]:
        capsys.readouterr()
        monkeypatch.setattr(sys, "stdin", io.StringIO(""))
        code = main([str(a) for a in args])
        out = capsys.readouterr()
        return code, out.out, out.err

    return run


def regenerate(cli: Any, repo: Repo, *names: str) -> tuple[int, str, str]:
    result = cli("ssh", "allowed-signers", *names, "--out", repo.allowed, "--revoked", repo.revoked)
    assert result[0] == 0, result
    return result


def test_signed_commit_verifies_until_the_key_is_revoked(chain: Chain, repo: Repo, cli: Any,
                                                         ssh_keys: Any) -> None:
    alice, bob = ssh_keys("git-alice"), ssh_keys("git-bob")
    reg = chain.reg
    res = reg.publish("alice@example.org", alice.text, purposes="ssh-user,signing")
    reg.publish("bob@example.org", bob.text, purposes="signing")
    chain.sync()
    regenerate(cli, repo, "example.org")
    lines = repo.allowed.read_text().splitlines()
    assert f'alice@example.org namespaces="git" {" ".join(alice.text.split()[:2])}' in lines
    good = repo.commit(alice, "alice@example.org")
    done = repo.verify(good)
    assert done.returncode == 0, done.stderr
    assert 'Good "git" signature for alice@example.org' in done.stderr
    assert repo.signer(good) == "G|alice@example.org"

    # bob's key, claiming to be alice: git can only ever name bob
    forged = repo.commit(bob, "alice@example.org")
    assert repo.signer(forged) == "G|bob@example.org"
    assert "alice@example.org" not in repo.verify(forged).stderr
    # ssh-keygen itself, asked whether the signature is alice's: no; bob's: yes
    assert repo.ssh_verify(forged, "alice@example.org").returncode != 0
    assert repo.ssh_verify(forged, "bob@example.org").returncode == 0
    # an unpublished key verifies as nobody
    stranger = repo.commit(ssh_keys("git-stranger"), "alice@example.org")
    assert repo.verify(stranger).returncode != 0
    assert not repo.signer(stranger).startswith("G|")

    reg.revoke("alice@example.org", int(res.index), "key-compromise")
    chain.sync()
    assert repo.verify(good).returncode == 0, "the files are only as new as their last regeneration"
    regenerate(cli, repo, "example.org")
    assert " ".join(alice.text.split()[:2]) in repo.revoked.read_text()
    assert "alice@example.org" not in repo.allowed.read_text()
    done = repo.verify(good)
    assert done.returncode != 0 and "signature for" not in done.stderr
    assert repo.signer(good) != "G|alice@example.org"
    assert repo.verify(forged).returncode == 0, "bob's key is still good (as bob)"
    # the revocation file alone refuses the key even where another file still lists it
    stale_list = repo.path.parent / "old_allowed"
    stale_list.write_text(f"alice@example.org namespaces=\"git\" {' '.join(alice.text.split()[:2])}\n")
    repo.run("config", "gpg.ssh.allowedSignersFile", str(stale_list))
    assert repo.verify(good).returncode != 0
    repo.run("config", "gpg.ssh.allowedSignersFile", str(repo.allowed))


def test_validity_window_and_benign_revocation(chain: Chain, repo: Repo, cli: Any,
                                               ssh_keys: Any) -> None:
    """valid-before from valid-until; a superseded key stays good for what it signed before."""
    carol, dave = ssh_keys("git-carol"), ssh_keys("git-dave")
    reg = chain.reg
    until = int(time.time()) + 30 * DAY
    reg.publish("dave@example.org", dave.text, purposes="signing", valid_until=until)
    res = reg.publish("carol@example.org", carol.text, purposes="signing")
    reg.revoke("carol@example.org", int(res.index), "superseded")
    chain.sync()
    from registry.index import IndexReader

    with IndexReader.open(chain.index) as ix:
        (rec,) = ix.records("carol@example.org")
    assert rec.status == "revoked" and rec.reason == 4
    revoked_at = rec.revoked_at
    regenerate(cli, repo, "dave@example.org", "carol@example.org")
    text = repo.allowed.read_text()
    stamp = time.strftime("%Y%m%d%H%M%SZ", time.gmtime(until - 1))
    assert f'dave@example.org namespaces="git",valid-before="{stamp}" ' in text
    assert "carol@example.org" in text and carol.text.split()[1] not in repo.revoked.read_text()
    before, after = repo.commit(dave, "dave@example.org", when=until - DAY), \
        repo.commit(dave, "dave@example.org", when=until + DAY)
    assert repo.verify(before).returncode == 0
    assert repo.verify(after).returncode != 0
    old, new = repo.commit(carol, "carol@example.org", when=revoked_at - 3600), \
        repo.commit(carol, "carol@example.org", when=revoked_at + 3600)
    assert repo.verify(old).returncode == 0, repo.verify(old).stderr
    assert repo.verify(new).returncode != 0


def test_a_key_under_two_names_is_left_out(chain: Chain, repo: Repo, cli: Any,
                                           ssh_keys: Any, tmp_path: Path) -> None:
    key = ssh_keys("git-shared")
    reg = chain.reg
    reg.publish("bob@example.org", key.text, purposes="signing")
    reg.publish("mallory@example.org", key.text, purposes="signing")  # someone else's public key
    chain.sync()
    code, _, err = regenerate(cli, repo, "example.org")
    assert "warning:" in err and "bob@example.org, mallory@example.org" in err
    assert key.text.split()[1] not in repo.allowed.read_text()
    assert repo.verify(repo.commit(key, "bob@example.org")).returncode != 0
    code, out, _ = cli("ssh", "allowed-signers", "mallory@example.org", "--json")
    data = json.loads(out)
    assert code == 0 and data["names"] == ["mallory@example.org"] and data["conflicts"] == []
    assert any(key.text.split()[1] in line for line in data["allowed"])


def test_stale_or_unsafe_index_writes_nothing(chain: Chain, repo: Repo, cli: Any, tmp_path: Path,
                                              safe_module_dir: Path) -> None:

    regenerate(cli, repo, "example.org")
    before = repo.allowed.read_text(), repo.revoked.read_text()
    stale = stale_copy(chain.index, safe_module_dir / "stale.sqlite", age=10 * DAY)
    code, out, err = cli("ssh", "allowed-signers", "example.org", "--index", stale,
                         "--out", repo.allowed, "--revoked", repo.revoked)
    assert code == 1 and out == "" and "stale" in err and err.count("\n") == 1
    assert (repo.allowed.read_text(), repo.revoked.read_text()) == before
    # a fresh copy where others could have written it (under /tmp): sshd's StrictModes refuse it
    unsafe = shutil.copy(chain.index, tmp_path / "index.sqlite")
    code, out, err = cli("ssh", "allowed-signers", "example.org", "--index", unsafe,
                         "--out", repo.allowed, "--revoked", repo.revoked)
    assert code == 1 and out == "" and "bad modes" in err and err.count("\n") == 1
    assert (repo.allowed.read_text(), repo.revoked.read_text()) == before
    code, _, err = cli("ssh", "allowed-signers", "not a name")
    assert code == 1 and "invalid name" in err.lower()


@pytest.mark.anvil
def test_watch_exec_keeps_the_files_current(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                            ssh_keys: Any, safe_tmp: Path) -> None:
    """The docs/INTEGRATIONS.md recipe: watch --exec runs sync + allowed-signers on each change."""
    node = Anvil()
    try:
        reg = node.registry()
        reg.register("example.org")
        reg.assign("alice@example.org", reg.account.address)
        start = reg.w3.eth.block_number + 1
        key = ssh_keys("git-watch")
        res = reg.publish("alice@example.org", key.text, purposes="signing")
        env = {"KEYANCHOR_RPC_URL": node.url, "KEYANCHOR_REGISTRY": reg.address,
               "KEYANCHOR_CONFIG": str(safe_tmp / "config.toml"),
               "KEYANCHOR_INDEX": str(safe_tmp / "index.sqlite")}
        for k, v in env.items():
            monkeypatch.setenv(k, v)
        allowed, revoked = tmp_path / "allowed_signers", tmp_path / "revoked_signers"
        ka = f"{sys.executable} -m cli.main"
        hook = (f"sh -c '{ka} sync >/dev/null && {ka} ssh allowed-signers example.org"
                f" --out {allowed} --revoked {revoked}'")

        def watch(frm: int) -> None:
            head = reg.w3.eth.block_number
            code = main(["watch", "alice@example.org", "--from-block", str(frm),
                         "--until-block", str(head), "--exec", hook])
            assert code == 0

        watch(start)
        assert key.text.split()[1] in allowed.read_text()
        mark = reg.w3.eth.block_number + 1
        reg.revoke("alice@example.org", int(res.index), "key-compromise")
        watch(mark)
        assert key.text.split()[1] not in allowed.read_text()
        assert key.text.split()[1] in revoked.read_text()
    finally:
        node.close()
