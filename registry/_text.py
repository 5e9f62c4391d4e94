"""Text from outside (an endpoint, sshd's ``%u``, a typed host name) made safe for one line.

Imports nothing: ``keyanchor-ssh`` uses it on its error path.
"""

from __future__ import annotations

__all__ = ["printable"]


def printable(text: str, limit: int | None = None) -> str:
    """``text`` (cut at ``limit`` characters, marked ``...``) with control and other
    unprintable characters as ``\\xNN`` / ``\\uNNNN`` escapes: an escape sequence or a newline
    in it must not reach a log or the user's terminal as such, nor split one error line in two.

        >>> printable("a\\x1b[2Jb\\n")
        'a\\\\x1b[2Jb\\\\n'
    """
    if limit is not None and len(text) > limit:
        text = text[:limit] + "..."
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
