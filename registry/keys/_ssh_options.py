"""The options of an authorized_keys line: ``cert-authority``, ``principals=``, ``expiry-time=``.

    authorized_options(None, True, ["alice"])   # 'cert-authority,principals="alice" '

:func:`registry.keys._ssh_wire.render_authorized_line` loads this for a line
that has options (a CA key, an expiring key), so a login whose keys have none
does not compile it when no bytecode is cached (docs/BENCHMARKS.md).
"""

from __future__ import annotations

from registry._errors_core import InvalidName, KeyFormatError
from registry.keys._ssh_wire import _ALNUM

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (sshd path)
if TYPE_CHECKING:
    from collections.abc import Iterable
    from datetime import datetime

__all__ = ["authorized_options"]

_PRINCIPAL_CHARS = _ALNUM | frozenset("._@+:/=~-")  # [A-Za-z0-9._@+:/=~-]{1,255}


def authorized_options(expiry: datetime | None, cert_authority: bool,
                       principals: Iterable[str]) -> str:
    """The options, comma-separated, and a blank (``""``: none).

    Raises: InvalidName (principal), KeyFormatError (expiry).
    """
    opts: list[str] = ["cert-authority"] if cert_authority else []
    names = [principals] if isinstance(principals, str) else list(principals)
    if names:
        for p in names:
            if not isinstance(p, str) or not 0 < len(p) <= 255 \
                    or not _PRINCIPAL_CHARS.issuperset(p):
                raise InvalidName(
                    f"invalid principal {p!r}: use letters, digits and ._@+:/=~- only"
                )
        opts.append(f'principals="{",".join(names)}"')
    if expiry is not None:
        from datetime import UTC, datetime

        if not isinstance(expiry, datetime) or expiry.utcoffset() is None:
            raise KeyFormatError("expiry must be a timezone-aware datetime")
        opts.append(f'expiry-time="{expiry.astimezone(UTC).strftime("%Y%m%d%H%M%SZ")}"')
    return ",".join(opts) + " " if opts else ""
