"""The checks on RSA, DSA and ECDSA public key fields (:mod:`registry.keys._ssh_wire` reads them).

    bits, curve, application = check_rsa("ssh-rsa", (("e", 65537), ("n", n)))

Apart from the wire readers so that a login serving only Ed25519 keys (most)
does not compile them when no bytecode is cached (docs/BENCHMARKS.md).
"""

from __future__ import annotations

from registry.errors import KeyFormatError
from registry.keys._ssh_wire import _safe

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:
    from registry.keys._ssh_wire import _Params

__all__ = ["check_dsa", "check_ecdsa", "check_rsa"]


def check_rsa(name: str, params: _Params) -> tuple[int, str | None, str | None]:
    e, n = params[0][1], params[1][1]
    bits = n.bit_length()
    if bits < 512:
        raise KeyFormatError(f"{name} modulus of {bits} bits is too small to be an RSA key")
    if not n & 1:
        raise KeyFormatError(f"{name} modulus is even")
    if e < 3 or not e & 1 or e >= n:
        raise KeyFormatError(f"{name} public exponent must be odd, at least 3 and below n")
    return bits, None, None


def check_dsa(name: str, params: _Params) -> tuple[int, str | None, str | None]:
    p, q, g, y = (v for _, v in params)
    if p.bit_length() < 512 or not p & 1 or not 1 < q < p or not 1 < g < p or not 1 < y < p:
        raise KeyFormatError(f"{name} parameters are not a DSA public key")
    return p.bit_length(), None, None


_CURVES = {"nistp256": (256, 65), "nistp384": (384, 97), "nistp521": (521, 133)}


def check_ecdsa(name: str, params: _Params) -> tuple[int, str | None, str | None]:
    curve, point = params[0][1], params[1][1]
    expected = name.removeprefix("sk-").removesuffix("@openssh.com").rpartition("-")[2]
    if curve != expected:
        raise KeyFormatError(f"{name} key names curve {_safe(curve)} instead of {expected}")
    bits, size = _CURVES[curve]
    if len(point) != size or point[0] != 4:
        raise KeyFormatError(f"{name} public point must be an uncompressed {curve} point")
    _check_on_curve(curve, point)
    application = params[2][1] if len(params) > 2 else None
    return bits, curve, application


def _check_on_curve(curve: str, point: bytes) -> None:
    from cryptography.hazmat.primitives.asymmetric import ec  # lazy: import cost

    crv: ec.EllipticCurve
    if curve == "nistp256":
        crv = ec.SECP256R1()
    elif curve == "nistp384":
        crv = ec.SECP384R1()
    else:
        crv = ec.SECP521R1()
    try:
        ec.EllipticCurvePublicKey.from_encoded_point(crv, point)
    except ValueError as exc:
        raise KeyFormatError(f"ECDSA public point is not on {curve}") from exc
