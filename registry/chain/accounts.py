"""Signing accounts: encrypted V3 keystore files or an environment variable.

    account = load_account("~/.local/share/keyanchor/keystore/alice.json", password="…")
    account = load_account()  # KEYANCHOR_PRIVATE_KEY from the environment

Private keys never go on a command line, in a log or in an error message.
Keystore files are written atomically with mode 0600.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from registry.errors import AccountError

if TYPE_CHECKING:  # pragma: no cover
    from eth_account.signers.local import LocalAccount

__all__ = [
    "ENV_PASSWORD",
    "ENV_PRIVATE_KEY",
    "KeystoreInfo",
    "account_from_env",
    "address_from_env",
    "address_of_private_key",
    "import_private_key",
    "keystore_address",
    "list_keystores",
    "load_account",
    "load_keystore",
    "new_keystore",
]

ENV_PRIVATE_KEY = "KEYANCHOR_PRIVATE_KEY"
ENV_PASSWORD = "KEYANCHOR_PASSWORD"

#: A callback asked for the password when neither the argument nor the environment has one.
PasswordPrompt = Callable[[str], str]


@dataclass(frozen=True, slots=True)
class KeystoreInfo:
    """A keystore file and the address it holds (read from the file, no password needed)."""

    path: Path
    address: str

    def to_dict(self) -> dict[str, Any]:
        return {"path": str(self.path), "address": self.address}


def _checksum(address: str) -> str:
    from registry.chain._address import checksum_address

    return checksum_address(address)


def _bad_key(source: str) -> AccountError:
    return AccountError(
        f"{source} does not hold a valid private key (expected 32 bytes as 64 hex digits)")


def _key_bytes(private_key: str | bytes, source: str) -> bytes:
    """Exactly 32 bytes, from 64 hex digits (``0x`` optional) or bytes: a truncated paste
    is refused, never left-padded into another key. Raises AccountError (key not echoed)."""
    problem = _bad_key(source)
    if isinstance(private_key, str):
        text = private_key.strip().removeprefix("0x").removeprefix("0X")
        if len(text) != 64:
            raise problem from None
        try:
            raw = bytes.fromhex(text)
        except ValueError:
            raise problem from None
    else:
        raw = bytes(private_key)
    if len(raw) != 32:
        raise problem from None
    return raw


def _from_key(private_key: str | bytes, source: str) -> LocalAccount:
    from eth_account import Account

    raw = _key_bytes(private_key, source)
    try:
        return Account.from_key(raw)
    except Exception:  # the exception text may echo the key: never chain it
        raise _bad_key(source) from None


def account_from_env(env: Mapping[str, str] | None = None) -> LocalAccount | None:
    """Return the account in ``KEYANCHOR_PRIVATE_KEY``, or ``None`` when it is unset.

    Raises:
        AccountError: the variable is set but holds no valid key.
    """
    env = os.environ if env is None else env
    value = env.get(ENV_PRIVATE_KEY, "").strip()
    if not value:
        return None
    return _from_key(value, ENV_PRIVATE_KEY)


def address_of_private_key(private_key: str | bytes, source: str = "the key") -> str:
    """The checksum address of a secp256k1 private key (hex text or 32 bytes), computed
    with coincurve (no eth-account). Raises AccountError (the key is never echoed)."""
    from registry.chain._address import checksum_address
    from registry.names import keccak256

    raw = _key_bytes(private_key, source)
    try:
        import coincurve

        public = coincurve.PrivateKey(raw).public_key.format(compressed=False)[1:]
    except Exception:  # zero or >= the group order; the message may echo the key
        raise _bad_key(source) from None
    return checksum_address(keccak256(public)[12:])


def address_from_env(env: Mapping[str, str] | None = None) -> str | None:
    """The address of ``KEYANCHOR_PRIVATE_KEY`` (None when unset), without eth-account.

    Raises:
        AccountError: the variable is set but holds no valid key.
    """
    env = os.environ if env is None else env
    value = env.get(ENV_PRIVATE_KEY, "").strip()
    if not value:
        return None
    return address_of_private_key(value, ENV_PRIVATE_KEY)


def keystore_address(path: str | os.PathLike[str]) -> str:
    """The address a V3 keystore file names (read from the file; nothing decrypted).

    Raises:
        AccountError: missing, unreadable or not a V3 keystore.
    """
    target = Path(path).expanduser()
    address = _read_keystore(target).get("address")
    if not isinstance(address, str):
        raise AccountError(f"{target} is a keystore without an address field")
    try:
        return _checksum(address)
    except Exception:
        raise AccountError(f"{target} names an invalid address") from None


def _read_keystore(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise AccountError(f"keystore {path} does not exist") from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise AccountError(f"keystore {path} is unreadable: {exc}") from None
    if not isinstance(data, dict) or "crypto" not in {k.lower() for k in data}:
        raise AccountError(f"{path} is not a V3 keystore file")
    return data


def load_keystore(
    path: str | os.PathLike[str],
    *,
    password: str | None = None,
    prompt: PasswordPrompt | None = None,
    env: Mapping[str, str] | None = None,
) -> LocalAccount:
    """Decrypt a V3 keystore file.

    The password is, in order: ``password``, ``KEYANCHOR_PASSWORD``, ``prompt(path)``.

    Raises:
        AccountError: missing or malformed file, no password available, wrong password.
    """
    path = Path(path).expanduser()
    data = _read_keystore(path)
    env = os.environ if env is None else env
    if password is None:
        password = env.get(ENV_PASSWORD)
    if password is None and prompt is not None:
        password = prompt(str(path))
    if password is None:
        raise AccountError(
            f"keystore {path} needs a password (set {ENV_PASSWORD} or enter it when asked)"
        )
    from eth_account import Account

    try:
        secret = Account.decrypt(data, password)
    except ValueError:
        raise AccountError(f"wrong password for keystore {path}") from None
    except Exception as exc:  # malformed crypto section; the message holds no secret
        raise AccountError(f"keystore {path} cannot be decrypted: {type(exc).__name__}") from None
    return _from_key(bytes(secret), f"keystore {path}")


def load_account(
    path: str | os.PathLike[str] | None = None,
    *,
    password: str | None = None,
    prompt: PasswordPrompt | None = None,
    env: Mapping[str, str] | None = None,
) -> LocalAccount:
    """Load the signing account: the keystore at ``path``, else ``KEYANCHOR_PRIVATE_KEY``.

    Raises:
        AccountError: no account configured, or the keystore cannot be opened.
    """
    if path is not None:
        return load_keystore(path, password=password, prompt=prompt, env=env)
    account = account_from_env(env)
    if account is None:
        raise AccountError(
            f"no account: give a keystore file (keyanchor account new) or set {ENV_PRIVATE_KEY}"
        )
    return account


def _write_private(path: Path, text: str, *, overwrite: bool) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    if path.exists() and not overwrite:
        raise AccountError(f"{path} already exists")
    fd, tmp = tempfile.mkstemp(prefix=".keystore-", dir=path.parent)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _save(
    account: LocalAccount,
    path: str | os.PathLike[str],
    password: str,
    *,
    iterations: int | None,
    overwrite: bool,
) -> KeystoreInfo:
    if not password:
        raise AccountError("refusing to write a keystore with an empty password")
    target = Path(path).expanduser()
    if target.is_dir():
        target = target / f"{account.address.lower()[2:]}.json"
    from eth_account import Account

    keystore = Account.encrypt(account.key, password, iterations=iterations)
    try:
        _write_private(target, json.dumps(keystore), overwrite=overwrite)
    except OSError as exc:
        raise AccountError(f"cannot write keystore {target}: {exc.strerror or exc}") from None
    return KeystoreInfo(target, account.address)


def new_keystore(
    path: str | os.PathLike[str],
    password: str,
    *,
    iterations: int | None = None,
    overwrite: bool = False,
) -> KeystoreInfo:
    """Create a fresh account and save it encrypted at ``path`` (a file, or a directory).

    ``iterations`` is the scrypt work factor (eth-account's default when ``None``).

    Raises:
        AccountError: empty password, file exists (without ``overwrite``), unwritable path.
    """
    from eth_account import Account

    return _save(Account.create(), path, password, iterations=iterations, overwrite=overwrite)


def import_private_key(
    private_key: str | bytes,
    path: str | os.PathLike[str],
    password: str,
    *,
    iterations: int | None = None,
    overwrite: bool = False,
) -> KeystoreInfo:
    """Encrypt an existing private key (hex text or 32 bytes) into a keystore at ``path``.

    Raises:
        AccountError: not a valid key (the key is never echoed), or as :func:`new_keystore`.
    """
    if isinstance(private_key, str):
        private_key = private_key.strip()
    account = _from_key(private_key, "the given text")
    return _save(account, path, password, iterations=iterations, overwrite=overwrite)


def list_keystores(directory: str | os.PathLike[str]) -> list[KeystoreInfo]:
    """List the V3 keystore files in ``directory`` (sorted by file name); others are skipped.

    Raises:
        AccountError: the directory cannot be read.
    """
    root = Path(directory).expanduser()
    if not root.exists():
        return []
    try:
        entries = sorted(p for p in root.iterdir() if p.is_file() and not p.name.startswith("."))
    except OSError as exc:
        raise AccountError(f"cannot list {root}: {exc.strerror or exc}") from None
    found = []
    for entry in entries:
        try:
            data = _read_keystore(entry)
            address = data.get("address")
            if not isinstance(address, str):
                continue
            found.append(KeystoreInfo(entry, _checksum(address)))
        except (AccountError, ValueError):
            continue
    return found
