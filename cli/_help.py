"""Help text as a reader expects it: ``NAME``, ``FILE…``, ``INDEX``, never ``{name}`` or ``<str>``.

    app = App(help="...")          # a typer.Typer whose commands use :class:`Command`

typer's plain help (``rich_markup_mode=None``, which keeps ``--help`` fast and
free of colour codes) shows required arguments as ``{name}`` and appends type
names (``<str>``, ``<list[Path]>``). :class:`Command` renders arguments by
their metavar (or upper-cased name, ``…`` after one that takes several) in the
usage line and the Arguments section, and options with their metavar (or the
upper-cased option name). Only click's public parameter attributes are used.
"""

from __future__ import annotations

import re
from typing import Any

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


class Command(TyperCommand):
    """A typer command whose usage line and help name arguments by their metavars."""

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
    """A typer group (its own options rendered like :class:`Command`'s)."""

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
