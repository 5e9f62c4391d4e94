"""User configuration: networks, accounts, the SSH user map and the index location.

    cfg = load_config()
    net = cfg.network()          # the selected network (flag > env > file > "embedded")

The file is TOML at ``$KEYANCHOR_CONFIG`` or ``<user config dir>/keyanchor/config.toml``::

    network = "embedded"                 # the default network

    [networks.devnet]
    url = "http://127.0.0.1:8545"
    registry = "0x..."                   # KeyRegistry address (optional until deployed)
    chain_id = 31337                     # optional; checked against the endpoint

    [networks.mainnet]                   # several endpoints: k must agree on each block
    urls = ["https://a.example", "https://b.example", "https://c.example"]
    quorum = 2                           # default 1: any one endpoint is trusted alone
    trust = "finalized"                  # or "safe", "latest" (default), or N confirmations

    [account]
    keystore = "/home/alice/.local/share/keyanchor/keystores/alice.json"

    [ssh]
    user_template = "{user}@example.org" # local user -> registry name
    users = { root = "admin@example.org" }
    max_staleness = 3600                 # seconds; older index -> sshd gets nothing

    [index]
    path = "/var/lib/keyanchor/index.sqlite"

    [dns]                                # DNS control (_keyanchor.<domain> TXT), checked by sync
    nameserver = "127.0.0.1"             # optional: the system resolver otherwise
    port = 53
    timeout = 3
    require = false                      # true (or the strict profile): fail closed

Environment variables override the file: ``KEYANCHOR_NETWORK``,
``KEYANCHOR_RPC_URL`` (with ``KEYANCHOR_REGISTRY``), ``KEYANCHOR_STATE`` (the
embedded chain file), ``KEYANCHOR_KEYSTORE``, ``KEYANCHOR_INDEX``.
Command-line flags override both. This module is pure (stdlib + platformdirs).
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from registry.errors import ConfigError

__all__ = [
    "Config",
    "Network",
    "config_dir",
    "config_path",
    "data_dir",
    "load_config",
    "save_config",
]

EMBEDDED = "embedded"
_NET_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}\Z")
_URL = re.compile(r"https?://[^\s]+\Z")
TRUST_TAGS = ("finalized", "safe", "latest")
_NETWORK_KEYS = frozenset({"url", "urls", "registry", "chain_id", "quorum", "trust"})


def _check_trust(value: object, where: str) -> None:
    """A trust tag: finalized, safe, latest, or a number of confirmations (0-10**6)."""
    if isinstance(value, bool) or not (
            (isinstance(value, int) and 0 <= value <= 10**6)
            or (isinstance(value, str) and value in TRUST_TAGS)):
        raise ConfigError(f"{where}: trust must be finalized, safe, latest or a number of"
                          f" confirmations, not {value!r}")


def config_dir() -> Path:
    from platformdirs import user_config_dir

    return Path(user_config_dir("keyanchor"))


def data_dir() -> Path:
    from platformdirs import user_data_dir

    return Path(user_data_dir("keyanchor"))


def config_path() -> Path:
    env = os.environ.get("KEYANCHOR_CONFIG")
    return Path(env) if env else config_dir() / "config.toml"


@dataclass(frozen=True, slots=True)
class Network:
    """A chain keyanchor talks to: the embedded chain, or JSON-RPC endpoints.

    ``urls`` are all the endpoints (``url`` is the first: transactions go there);
    a block is trusted when ``quorum`` of them agree on its hash at ``trust``
    (``finalized``, ``safe``, ``latest`` or a number of confirmations).
    """

    name: str
    url: str | None = None  # None: the embedded chain
    registry: str | None = None
    chain_id: int | None = None
    state: Path | None = None  # embedded chain file
    urls: tuple[str, ...] = ()
    quorum: int = 1
    trust: str | int = "latest"

    @property
    def embedded(self) -> bool:
        return self.url is None

    @property
    def endpoints(self) -> tuple[str, ...]:
        """Every endpoint URL (the embedded chain has none)."""
        return self.urls or ((self.url,) if self.url else ())

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "url": self.url or "embedded"}
        if len(self.endpoints) > 1:
            out["urls"] = list(self.endpoints)
        if not self.embedded:
            out["quorum"] = self.quorum
            out["trust"] = self.trust
        if self.registry:
            out["registry"] = self.registry
        if self.chain_id is not None:
            out["chain_id"] = self.chain_id
        if self.state is not None:
            out["state"] = str(self.state)
        return out


@dataclass
class Config:
    """The parsed configuration file (mutable, so commands can edit and save it)."""

    data: dict[str, Any] = field(default_factory=dict)
    path: Path = field(default_factory=config_path)

    def _table(self, key: str) -> dict[str, Any]:
        """The top-level table ``key`` ({} when absent). Raises ConfigError: not a table."""
        value = self.data.get(key)
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise ConfigError(f"{self.path}: [{key}] must be a table, not {value!r}")
        return value

    # -- networks -----------------------------------------------------------------
    def networks(self) -> dict[str, Network]:
        nets: dict[str, Network] = {EMBEDDED: self._embedded()}
        for name, raw in self._table("networks").items():
            if name == EMBEDDED:
                continue
            nets[name] = self._remote(name, raw)
        return nets

    def _remote(self, name: str, raw: Any) -> Network:
        where = f"{self.path}: network {name!r}"
        if not isinstance(raw, dict):
            raise ConfigError(f"{where} must be a table")
        unknown = sorted(set(raw) - _NETWORK_KEYS)
        if unknown:  # a misspelt quorum would leave one endpoint trusted alone
            raise ConfigError(f"{where} has no setting {unknown[0]!r}"
                              f" ({', '.join(sorted(_NETWORK_KEYS))})")
        urls = raw.get("urls")
        if urls is None:
            urls = [raw.get("url")]
        if not isinstance(urls, list) or not urls or not all(
                isinstance(u, str) and _URL.match(u) for u in urls):
            raise ConfigError(f"{where} needs a url (or urls, a list of http(s):// URLs)")
        if "url" in raw and "urls" in raw and raw["url"] != urls[0]:
            raise ConfigError(f"{where}: url must be the first of urls (or left out)")
        if len(set(urls)) != len(urls):
            raise ConfigError(f"{where}: urls lists the same endpoint twice")
        chain_id = raw.get("chain_id")
        if chain_id is not None and (not isinstance(chain_id, int) or isinstance(chain_id, bool)):
            raise ConfigError(f"{where}: chain_id must be an integer")
        quorum = raw.get("quorum", 1)
        if not isinstance(quorum, int) or isinstance(quorum, bool) or not 1 <= quorum <= len(urls):
            raise ConfigError(f"{where}: quorum must be an integer from 1 to {len(urls)}"
                              " (the number of urls)")
        trust = raw.get("trust", "latest")
        _check_trust(trust, where)
        return Network(name, urls[0], raw.get("registry"), chain_id, None, tuple(urls), quorum,
                       trust)

    def _embedded(self) -> Network:
        raw = self._table("networks").get(EMBEDDED) or {}
        if not isinstance(raw, dict):
            raise ConfigError(f"{self.path}: network 'embedded' must be a table")
        state = os.environ.get("KEYANCHOR_STATE") or raw.get("state")
        if state is not None and (not isinstance(state, str) or not state.strip()):
            raise ConfigError(f"{self.path}: network 'embedded': state must be a file path"
                              f" (a non-empty string), not {state!r}")
        return Network(EMBEDDED, None, None, None, Path(state) if state else data_dir() / "chain.db")

    def network(self, name: str | None = None) -> Network:
        """The network to use: ``name`` (flag) > env > config file > embedded.

        Raises:
            ConfigError: the name is unknown.
        """
        url = os.environ.get("KEYANCHOR_RPC_URL")
        if name is None and url:
            return Network("env", url, os.environ.get("KEYANCHOR_REGISTRY"), None)
        name = name or os.environ.get("KEYANCHOR_NETWORK") or self.data.get("network") or EMBEDDED
        nets = self.networks()
        if name not in nets:
            known = ", ".join(sorted(nets))
            raise ConfigError(f"unknown network {name!r} (known: {known}; add one with 'keyanchor network add')")
        return nets[name]

    def add_network(self, name: str, url: str | list[str] | tuple[str, ...], *,
                    registry: str | None = None, chain_id: int | None = None,
                    quorum: int = 1, trust: str | int = "latest") -> Network:
        """Add (or replace) a network of one or more endpoints; ``quorum`` of them must agree
        on a block's hash at ``trust`` for it to be trusted. Replacing a network keeps
        its registry address and chain id unless new ones are given: re-adding it to
        change the quorum or the endpoints used to drop the address, and the advice that
        followed ("deploy one") made a second, empty registry.

        Raises: ConfigError (bad name, URL, quorum or trust tag).
        """
        if not _NET_NAME.match(name) or name == EMBEDDED:
            raise ConfigError(f"invalid network name {name!r}")
        urls = [url] if isinstance(url, str) else list(url)
        for u in urls:
            if not _URL.match(u):
                raise ConfigError(f"invalid RPC URL {u!r} (http:// or https://)")
        if not urls:
            raise ConfigError("a network needs at least one URL")
        if len(set(urls)) != len(urls):
            raise ConfigError("the same URL is given twice")
        if not 1 <= quorum <= len(urls):
            raise ConfigError(f"quorum {quorum} is impossible with {len(urls)} endpoint(s):"
                              f" 1 to {len(urls)}")
        _check_trust(trust, "the trust tag")
        entry: dict[str, Any] = {"url": urls[0]}
        if len(urls) > 1:
            entry["urls"] = urls
        if quorum != 1:
            entry["quorum"] = quorum
        if trust != "latest":
            entry["trust"] = trust
        before = self._table("networks").get(name)
        if isinstance(before, dict):
            registry = registry or before.get("registry")
            chain_id = chain_id if chain_id is not None else before.get("chain_id")
        if registry:
            entry["registry"] = registry
        if chain_id is not None:
            entry["chain_id"] = chain_id
        self.data["networks"] = self._table("networks")
        self.data["networks"][name] = entry
        return self.networks()[name]

    def set_registry(self, network: str, address: str) -> None:
        if network == EMBEDDED:
            return
        self.data.setdefault("networks", {}).setdefault(network, {})["registry"] = address

    def use_network(self, name: str) -> None:
        if name not in self.networks():
            raise ConfigError(f"unknown network {name!r}")
        self.data["network"] = name

    # -- accounts -----------------------------------------------------------------
    def keystore_dir(self) -> Path:
        return data_dir() / "keystores"

    def keystore(self) -> Path | None:
        env = os.environ.get("KEYANCHOR_KEYSTORE")
        if env:
            return Path(env)
        value = self._table("account").get("keystore")
        if value is not None and not isinstance(value, str):
            raise ConfigError(f"{self.path}: [account] keystore must be a file path (a string),"
                              f" not {value!r}")
        return Path(value) if value else None

    def set_keystore(self, path: Path) -> None:
        self.data["account"] = self._table("account")
        self.data["account"]["keystore"] = str(path)

    # -- ssh / index ----------------------------------------------------------------
    def index_path(self) -> Path:
        """The index file: ``$KEYANCHOR_INDEX``, else ``[index] path``, else the data dir's.

        Raises:
            ConfigError: ``[index]`` is not a table or its ``path`` not a non-empty string.
        """
        env = os.environ.get("KEYANCHOR_INDEX")
        if env:
            return Path(env).expanduser()
        index = self._table("index")
        if "path" not in index:
            return data_dir() / "index.sqlite"
        value = index["path"]
        if not isinstance(value, str) or not value.strip():
            raise ConfigError(f"{self.path}: [index] path must be a file path (a non-empty"
                              f" string), not {value!r}")
        return Path(value).expanduser()

    def ssh(self) -> dict[str, Any]:
        return dict(self.data.get("ssh") or {})


def load_config(path: Path | None = None) -> Config:
    """Read the configuration file (missing file: defaults).

    Raises:
        ConfigError: the file exists but is not valid TOML or not readable.
    """
    path = path or config_path()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return Config({}, path)
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read configuration ({exc})") from exc
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML ({exc})") from exc
    return Config(data, path)


def save_config(cfg: Config) -> Path | None:
    """Write the configuration atomically (temp file + rename).

    A symbolic link is written through (its target is replaced, the link kept) and the
    file keeps its mode. The file is rewritten from the parsed data, so comments do not
    survive: when the old file had any, it is kept beside as ``<name>.bak`` (same mode)
    and that path is returned (else ``None``).

    Raises:
        ConfigError: the file cannot be written.
    """
    import tomli_w

    target = Path(os.path.realpath(cfg.path))
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            old = target.read_bytes()
            mode: int | None = os.stat(target).st_mode & 0o7777
        except FileNotFoundError:
            old, mode = b"", None
        backup = None
        if _has_comments(old):
            backup = target.with_name(target.name + ".bak")
            _write_replace(backup, old, mode)
        _write_replace(target, tomli_w.dumps(cfg.data).encode("utf-8"), mode)
    except OSError as exc:
        raise ConfigError(f"{cfg.path}: cannot write configuration ({exc})") from exc
    return backup


def _write_replace(path: Path, data: bytes, mode: int | None) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    if mode is not None:
        os.chmod(tmp, mode)
    os.replace(tmp, path)


def _has_comments(text: bytes) -> bool:
    """Whether TOML text holds a comment (a ``#`` outside strings), which a rewrite drops."""
    if b"#" not in text:
        return False
    try:
        tokens = _TOML_STRINGS.sub("", text.decode("utf-8"))
    except UnicodeDecodeError:
        return True
    return "#" in tokens


# basic and literal strings, one-line and multi-line: what may hold a '#' that is no comment
_TOML_STRINGS = re.compile(r'"""(?:[^\\]|\\.)*?"""|\'\'\'.*?\'\'\'|"(?:[^"\\\n]|\\.)*"|\'[^\'\n]*\'',
                           re.DOTALL)
