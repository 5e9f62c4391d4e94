"""What the verified client and the embedded chain's file reader both do with a record.

    key = parsed_material(KeyType.SSH, material)   # parsed once per distinct material

Parsing a record's material (an OpenPGP certificate, an X.509 chain) is the
largest part of a lookup once its state is proven. A parse is a pure function
of ``(key type, material)`` and the parsed keys are frozen, so the last
:data:`MAX_KEYS` distinct materials parsed are kept; a material that does not
parse is not kept (it fails again, with the same error). The material itself is
always checked against its on-chain commitment before it is parsed.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from registry.keys._common import Key, KeyType

__all__ = ["MAX_KEYS", "parsed_material"]

#: Parsed keys kept, by (key type, material).
MAX_KEYS = 2_048

_lock = threading.Lock()
_keys: OrderedDict[tuple[int, bytes], Key] = OrderedDict()


def parsed_material(key_type: KeyType, material: bytes) -> Key:
    """``registry.keys.load_material(key_type, material)``, parsed once per distinct material.

    Raises: as ``load_material`` (KeyFormatError, UnsupportedKeyType, PrivateKeyError).
    """
    ident = (int(key_type), bytes(material))
    with _lock:
        hit = _keys.get(ident)
        if hit is not None:
            _keys.move_to_end(ident)
            return hit
    from registry.keys import load_material

    key = load_material(key_type, ident[1])
    with _lock:
        _keys[ident] = key
        while len(_keys) > MAX_KEYS:
            _keys.popitem(last=False)
    return key
