"""The ``keyanchor`` command line (typer). Thin: parse, call the library, render.

    $ keyanchor key inspect ~/.ssh/id_ed25519.pub
    $ keyanchor --help
"""
