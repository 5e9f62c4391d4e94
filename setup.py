"""Build hooks for keyanchor: the sshd login's modules (and the OpenPGP packet scan)
compiled to C extensions in a wheel.

    pip install .                      # wheel: the login path compiled (Cython), if it can be
    KEYANCHOR_NATIVE=0 pip install .   # pure Python;  =1: fail if it cannot compile

pyproject.toml is the metadata; this file only adds the extension modules. sshd
runs ``keyanchor-ssh authorized-keys`` on every login, often as a user that
cannot write ``__pycache__``: compiled, the login compiles no bytecode at all.
The ``.py`` files ship beside the extensions (the import system prefers the
extension). Editable installs (``pip install -e .``, setuptools' PEP 660
``editable_wheel``) always stay pure Python: a compiled module left next to
its source would shadow every later edit of it. Without Cython or a working C
compiler the build says so in one line and installs pure Python (unless
``KEYANCHOR_NATIVE=1``).
"""

from __future__ import annotations

import os
import sys
import tempfile
from importlib.machinery import EXTENSION_SUFFIXES

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext
from setuptools.command.build_py import build_py

#: What a plain ``keyanchor-ssh authorized-keys USER`` imports (tests/index/test_install_bytecode.py
#: checks this against a real login), then the pieces a login loads only for a rarer input.
LOGIN_MODULES = (
    "cli.ssh_entry",
    "registry._errors_core",
    "registry._grammar",
    "registry.gateways._login",
    "registry.gateways._modes",
    "registry.gateways._toml",
    "registry.index",
    "registry.index._open",
    "registry.index._version",
    "registry.keys",
    "registry.keys._keccak",
    "registry.keys._ssh_wire",
    # loaded on first need: a name not in normal form, another key type, options, inline tables
    "registry._grammar_parse",
    "registry.keys._ssh_formats",
    "registry.keys._ssh_checks",
    "registry.keys._ssh_options",
    "registry.gateways._toml_inline",
)

#: The checks an OpenPGP load runs on every packet (issue 15): compiled for speed, with the C
#: types its ``.pxd`` declares beside the ``.py``; and the loader around them, compiled as it
#: stands (no ``.pxd``: its records stay dataclasses; with the scan's ``load_summary``, 0.35 /
#: 0.32 / 0.35x -> 0.37 / 0.33 / 0.37x of the floor, paired: docs/BENCHMARKS.md, branch pgp8).
#: tests/index/test_install_bytecode.py loads the same inputs through the built wheel and the
#: source and compares.
OPENPGP_MODULES = ("registry.keys._pgp_scan", "registry.keys._openpgp")

#: The keyserver's byte loops (issue 15), compiled with the C types of their ``.pxd``: the HKP
#: answer's armor (a CRC-24 table loop in C; binascii's base64). As plain Python it is left
#: unused (Sequoia's writer is faster than a Python loop): the module says whether it is compiled.
#: tests/gateways/test_armor.py compares the wheel's with the reference writer.
GATEWAY_MODULES = ("registry.gateways._armor",)

#: Cython, pure-Python mode: annotations are documentation only (no C types, no runtime type
#: checks), module globals are looked up at each use as in CPython.
DIRECTIVES = {"language_level": 3, "annotation_typing": False, "binding": True,
              "embedsignature": False, "always_allow_keywords": True}

#: The OpenPGP scan's directives: as the login's; the ``.pxd`` gives the C types, and Cython's
#: type inference stays at its safe default (``infer_types=True`` made C ints of shifted
#: octets: a creation time after 2038 read negative).
OPENPGP_DIRECTIVES = dict(DIRECTIVES)

#: Appended to Python's own flags (-O3 -g): the login runs each line about once, so size (and
#: load time) matters more than speed; no debug information in what ships.
CFLAGS = ("-Os", "-g0")

#: The OpenPGP scan's: Python's own optimisation (-O3: it runs on every packet loaded), no
#: debug information either.
OPENPGP_CFLAGS = ("-g0",)

#: The setup.py commands that build (and so may compile); PEP 517's build_wheel runs bdist_wheel.
BUILDS = {"build", "build_ext", "bdist_wheel", "bdist", "install", "editable_wheel", "develop"}


def _say(text: str) -> None:
    print(f"keyanchor: {text}", file=sys.stderr, flush=True)


def _source(module: str) -> str:
    path = module.replace(".", os.sep)
    return path + os.sep + "__init__.py" if os.path.isdir(path) else path + ".py"


def _mode() -> str:
    value = os.environ.get("KEYANCHOR_NATIVE", "").strip().lower()
    if value in ("", "auto"):
        return "auto"
    if value in ("0", "1"):
        return value
    raise SystemExit(f"keyanchor: KEYANCHOR_NATIVE must be 0, 1 or auto, not {value!r}")


def _editable() -> bool:
    """An editable install: setuptools' PEP 660 ``editable_wheel`` (pip install -e .), or
    the legacy ``develop``."""
    return any(arg in ("editable_wheel", "develop") for arg in sys.argv[1:])


def _compiler_works() -> str | None:
    """None if a C compiler builds a file including Python.h here, else why not."""
    try:
        from setuptools._distutils.ccompiler import new_compiler
        from setuptools._distutils.sysconfig import customize_compiler, get_python_inc
    except ImportError as exc:  # pragma: no cover
        return f"no distutils compiler ({exc})"
    compiler = new_compiler()
    customize_compiler(compiler)
    with tempfile.TemporaryDirectory() as tmp:
        probe = os.path.join(tmp, "probe.c")
        with open(probe, "w") as f:
            f.write("#include <Python.h>\nint keyanchor_probe(void) { return 0; }\n")
        try:
            compiler.compile([probe], output_dir=tmp, include_dirs=[get_python_inc()])
        except Exception as exc:  # whatever the compiler's error class (it moved in setuptools 80)
            return (f"no working C compiler with the Python headers ({compiler.compiler_so[0]}:"
                    f" {type(exc).__name__})")
    return None


def _native_extensions() -> list[Extension]:
    """The login's extension modules, or [] (pure Python) with a one-line reason when this
    run builds something (metadata-only runs such as ``egg_info`` need no extensions)."""
    mode = _mode()
    if not BUILDS & set(sys.argv[1:]):
        return []
    if mode == "0":
        _say("KEYANCHOR_NATIVE=0: pure Python")
        return []
    if _editable():
        _say("editable install: pure Python (compiled modules would shadow edited sources)")
        return []
    try:
        import Cython  # noqa: F401
    except ImportError:
        why = "Cython is not installed"
    else:
        why = _compiler_works() or ""
    if why:
        if mode == "1":
            raise SystemExit(f"keyanchor: KEYANCHOR_NATIVE=1 but {why}")
        _say(f"{why}: the sshd login path installs as pure Python")
        return []
    # a package's extension is its __init__ (PyInit_<package>), found where __init__.py is
    return [Extension(_source(m)[:-3].replace(os.sep, "."), [_source(m)])
            for m in (*LOGIN_MODULES, *OPENPGP_MODULES, *GATEWAY_MODULES)]


class BuildExt(build_ext):
    """Cythonize into the build directory (never beside the sources), then compile; a failure
    falls back to the pure-Python modules, which ship in the wheel either way."""

    def finalize_options(self) -> None:
        super().finalize_options()
        if self.parallel is None:  # one C compiler per core
            self.parallel = os.cpu_count() or 1

    def build_extension(self, ext: Extension) -> None:
        if self.compiler.compiler_type == "unix":
            flags = OPENPGP_CFLAGS if ext.name in (*OPENPGP_MODULES, *GATEWAY_MODULES) else CFLAGS
            ext.extra_compile_args = [*ext.extra_compile_args, *flags]
        super().build_extension(ext)

    def run(self) -> None:
        if not self.extensions:
            return
        if self.editable_mode or self.inplace:  # defensive: never a .so beside the sources
            _say("in-place build: pure Python")
            return
        try:
            from Cython.Build import cythonize

            for directives, group in ((DIRECTIVES, LOGIN_MODULES),
                                      (OPENPGP_DIRECTIVES, OPENPGP_MODULES),
                                      (OPENPGP_DIRECTIVES, GATEWAY_MODULES)):
                exts = [e for e in self.extensions if e.name in group]
                generated = cythonize(
                    exts, build_dir=os.path.join(self.build_temp, "cython"),
                    compiler_directives=directives, quiet=True, force=self.force)
                for ext, c in zip(exts, generated, strict=True):  # keep setuptools'
                    ext.sources = c.sources                       # Extension objects
            super().run()
        except Exception as exc:  # no install fails for want of a compiler
            if _mode() == "1":
                raise
            _say(f"compiling the sshd login path failed ({type(exc).__name__}: "
                 f"{' '.join(str(exc).split())[:120]}): it installs as pure Python")
            for built in self.get_outputs():  # nothing half-built: all pure Python
                if os.path.exists(built):
                    os.remove(built)
            self.extensions = []


class BuildPy(build_py):
    """A pure-Python build drops compiled login modules an earlier build left in the build
    directory (pip builds in the source tree's ``build/``): they would ship and shadow the
    ``.py`` files."""

    def run(self) -> None:
        super().run()
        if self.distribution.ext_modules:
            return
        for module in (*LOGIN_MODULES, *OPENPGP_MODULES, *GATEWAY_MODULES):
            stem = os.path.join(self.build_lib, _source(module)[:-3])
            for suffix in EXTENSION_SUFFIXES:
                if os.path.exists(stem + suffix):
                    os.remove(stem + suffix)


setup(ext_modules=_native_extensions(), cmdclass={"build_ext": BuildExt, "build_py": BuildPy})
