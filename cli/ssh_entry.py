"""``keyanchor-ssh``: the light entry point sshd and ssh run on every connection.

    AuthorizedKeysCommand /usr/local/bin/keyanchor-ssh authorized-keys %u
    KnownHostsCommand /usr/local/bin/keyanchor-ssh known-hosts %H

Imports neither typer nor rich (nor web3): only the standard library, the
index's read side and the SSH renderers. Fails closed: on any error it prints
nothing on stdout, one line on stderr, and exits 1 (sshd then ignores the
command; ssh aborts the connection). Exit 2 for a usage error.
"""

from __future__ import annotations

import sys

__all__ = ["main"]

USAGE = "usage: keyanchor-ssh authorized-keys USER | keyanchor-ssh known-hosts HOST\n"


def main(argv: list[str] | None = None) -> int:
    """Run one command; return the exit code. Output is written only on success."""
    args = sys.argv[1:] if argv is None else list(argv)
    if args in (["-h"], ["--help"]):
        sys.stdout.write(USAGE)
        return 0
    if len(args) != 2 or args[0] not in ("authorized-keys", "known-hosts"):
        sys.stderr.write(USAGE)
        return 2
    command, subject = args
    try:
        if command == "authorized-keys":  # every login: the slim module alone
            from registry.gateways._login import authorized_keys_for

            text = authorized_keys_for(subject)
        else:
            from registry.gateways._ssh_hosts import known_hosts

            text = known_hosts(subject)
    except Exception as exc:  # fail closed, whatever it was
        from registry._text import printable

        detail = " ".join(str(exc).split())
        sys.stderr.write(f"keyanchor-ssh: {command} {printable(subject, 256)}: {printable(detail, 1024)}\n")
        return 1
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except OSError:
        return 1
    return 0


def _console_main() -> None:
    raise SystemExit(main())


if __name__ == "__main__":
    _console_main()
