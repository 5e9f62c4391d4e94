"""keyanchor's typer commands: help as a reader expects it, and values parsed without pydantic.

    app = App(help="...")          # a typer.Typer whose commands use :class:`Command`

Help: typer's plain help (``rich_markup_mode=None``, which keeps ``--help``
fast and free of colour codes) shows required arguments as ``{name}`` and
appends type names (``<str>``, ``<list[Path]>``). :class:`Command` renders
arguments by their metavar (or upper-cased name, ``…`` after one that takes
several) in the usage line and the Arguments section, and options with their
metavar (or the upper-cased option name), using click's public parameter
attributes.

Values: typer 0.2x turns each command-line value into its annotated type
through a pydantic ``TypeAdapter``; importing pydantic and building the
adapters costs about a third of a read command's time budget. The parameters
keyanchor's commands declare are plain (``str``, ``int``, ``float``, ``bool``,
``Path``, ``X | None``, ``list[X]``, with ``min`` / ``max`` on numbers), so
:class:`Command` gives each such parameter a small coercer before parsing
(:class:`_Plain`); a parameter of any other type, or a typer without this
mechanism, keeps typer's own. Errors are usage errors (exit 2) as before.
"""

from __future__ import annotations

import re
from pathlib import Path
from types import UnionType
from typing import Any, Union, get_args, get_origin

import typer
from typer.core import TyperCommand, TyperGroup

__all__ = ["App", "Command", "Group"]

_TYPE_TAG = re.compile(r" <[^<>]*>$")


def _argument_label(param: Any) -> str:
    label = str(param.metavar or (param.name or "").upper())
    if param.nargs != 1 and not label.endswith(("…", "...")):
        label += "…"
    return label


def _argument_help(param: Any) -> str:
    help_text = str(param.help or "")
    extra = []
    default = param.default
    if not param.required and default not in (None, (), [], False) and param.show_default:
        extra.append(f"default: {default}")
    if getattr(param, "min", None) is not None or getattr(param, "max", None) is not None:
        low, high = getattr(param, "min", None), getattr(param, "max", None)
        extra.append(f"{low if low is not None else ''}..{high if high is not None else ''}")
    if not param.required:
        extra.append("optional")
    return f"{help_text}  [{'; '.join(extra)}]" if extra else help_text


def _option_record(param: Any, ctx: Any) -> tuple[str, str] | None:
    record = param.get_help_record(ctx)
    if record is None:
        return None
    names, help_text = record
    if not getattr(param, "is_flag", False) and param.metavar is None:
        names = _TYPE_TAG.sub(" " + (param.name or "value").upper(), names)
    return names, help_text


_LEAVES: dict[Any, Any] = {str: str, int: int, float: float, bool: bool, Path: Path}


def _plain_type(annotation: Any) -> tuple[Any, bool] | None:
    """(leaf type, is a list) for the annotations :class:`_Plain` handles, else None."""
    args = [a for a in get_args(annotation) if a is not type(None)]
    if get_origin(annotation) in (Union, UnionType) and len(args) == 1:
        annotation = args[0]
    if get_origin(annotation) is list:
        inner = get_args(annotation)
        return (inner[0], True) if len(inner) == 1 and inner[0] in _LEAVES else None
    return (annotation, False) if annotation in _LEAVES else None


class _Plain:
    """typer's RuntimeParam contract (``coerce``) for plain annotations, without pydantic."""

    def __init__(self, leaf: Any, many: bool) -> None:
        self.leaf, self.many = leaf, many

    def coerce(self, value: Any, param: Any, ctx: Any) -> Any:
        if value is None:
            return () if (param.multiple or param.nargs == -1) else None
        if self.many or isinstance(value, list | tuple):
            return [self._one(v, param, ctx) for v in value]
        return self._one(value, param, ctx)

    def _one(self, value: Any, param: Any, ctx: Any) -> Any:
        leaf = self.leaf
        if isinstance(value, leaf) and not (leaf is int and isinstance(value, bool)):
            out = value
        elif leaf is bool:
            text = str(value).strip().lower()
            if text not in ("1", "0", "true", "false", "yes", "no", "on", "off"):
                raise typer.BadParameter(f"{value!r} is not a valid boolean", ctx=ctx,
                                         param=param)
            out = text in ("1", "true", "yes", "on")
        elif leaf in (int, float):
            try:
                out = leaf(str(value).strip())
            except ValueError:
                kind = "integer" if leaf is int else "number"
                raise typer.BadParameter(f"{value!r} is not a valid {kind}", ctx=ctx,
                                         param=param) from None
        else:
            out = leaf(value)
        low, high = getattr(param, "min", None), getattr(param, "max", None)
        if leaf in (int, float) and ((low is not None and out < low)
                                     or (high is not None and out > high)):
            bounds = " and ".join(b for b in (f">= {low}" if low is not None else "",
                                              f"<= {high}" if high is not None else "") if b)
            raise typer.BadParameter(f"{out} is out of range (it must be {bounds})", ctx=ctx,
                                     param=param)
        return out


def _use_plain_coercion(params: list[Any]) -> None:
    for param in params:
        if getattr(param, "_runtime_param", "absent") is not None:
            continue  # typer without runtime params, or already set
        descriptor = getattr(param, "type_descriptor", None)
        plain = _plain_type(getattr(descriptor, "annotation", None))
        if plain is not None:
            param._runtime_param = _Plain(*plain)


class Command(TyperCommand):
    """A typer command whose usage line and help name arguments by their metavars, and
    whose plain parameters are parsed without pydantic."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        _use_plain_coercion(self.get_params(ctx))
        return super().parse_args(ctx, args)

    def collect_usage_pieces(self, ctx: Any) -> list[str]:
        params = [p for p in self.get_params(ctx) if not getattr(p, "hidden", False)]
        pieces = ["[OPTIONS]"] if any(p.param_type_name == "option" for p in params) else []
        for param in params:
            if param.param_type_name == "argument":
                label = _argument_label(param)
                pieces.append(label if param.required else f"[{label}]")
        return pieces

    def format_options(self, ctx: Any, formatter: Any) -> None:
        args, opts = [], []
        for param in self.get_params(ctx):
            if getattr(param, "hidden", False):
                continue
            if param.param_type_name == "argument":
                args.append((_argument_label(param), _argument_help(param)))
            elif param.param_type_name == "option":
                record = _option_record(param, ctx)
                if record is not None:
                    opts.append(record)
        if args:
            with formatter.section("Arguments"):
                formatter.write_dl(args)
        if opts:
            with formatter.section("Options"):
                formatter.write_dl(opts)


class Group(TyperGroup):
    """A typer group (its own options rendered and parsed like :class:`Command`'s)."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        _use_plain_coercion(self.get_params(ctx))
        return super().parse_args(ctx, args)

    def format_options(self, ctx: Any, formatter: Any) -> None:
        opts = [r for p in self.get_params(ctx)
                if p.param_type_name == "option" and (r := _option_record(p, ctx)) is not None]
        if opts:
            with formatter.section("Options"):
                formatter.write_dl(opts)
        self.format_commands(ctx, formatter)


class App(typer.Typer):
    """``typer.Typer`` with :class:`Command` / :class:`Group` and keyanchor's defaults."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("cls", Group)
        kwargs.setdefault("no_args_is_help", True)
        kwargs.setdefault("add_completion", False)
        kwargs.setdefault("rich_markup_mode", None)
        kwargs.setdefault("pretty_exceptions_enable", False)
        super().__init__(**kwargs)

    def command(self, name: str | None = None, *args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("cls", Command)
        return super().command(name, *args, **kwargs)
