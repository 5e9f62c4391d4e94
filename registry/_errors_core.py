"""The error classes sshd's login can raise, defined once here and re-exported by
:mod:`registry.errors` (the same class objects, named ``registry.errors.X``).

``keyanchor-ssh authorized-keys`` imports this module, not :mod:`registry.errors`
with its 30 classes, so that without cached bytecode a login compiles only the
classes it raises (docs/BENCHMARKS.md). Import them from :mod:`registry.errors`.
"""

__all__ = ["ConfigError", "Error", "IndexError_", "IndexUnavailable", "InvalidName",
           "KeyFormatError", "UnsupportedKeyType"]


class Error(Exception):
    """Base of every error keyanchor raises on purpose."""

    __module__ = "registry.errors"


class KeyFormatError(Error, ValueError):
    """Key material could not be parsed: truncated, malformed, wrong format."""

    __module__ = "registry.errors"


class UnsupportedKeyType(KeyFormatError):
    """Well-formed key material of a type keyanchor does not handle."""

    __module__ = "registry.errors"


class InvalidName(Error, ValueError):
    """A registry name that breaks the name grammar."""

    __module__ = "registry.errors"


class ConfigError(Error):
    """Bad configuration: unknown network, unreadable config file, bad setting."""

    __module__ = "registry.errors"


class IndexError_(Error):
    """Problems with the local index (named with a trailing underscore: not the builtin)."""

    __module__ = "registry.errors"


class IndexUnavailable(IndexError_):
    """The local index is missing, corrupt, or older than the allowed staleness."""

    __module__ = "registry.errors"
