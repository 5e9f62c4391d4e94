"""keyanchor: a public key registry anchored on an EVM chain.

    from registry.keys import load_key
    from registry.names import namehash

Nothing heavy is imported here: import the layer you need.
"""

__version__ = "0.1.0"
