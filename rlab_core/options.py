"""Options declared once: a config dataclass whose fields are also its command line.

As CleanRL's ``Args`` dataclass is its script's command line, a config's fields declared with
:func:`option` are the options of the command that runs it: :func:`add_options` puts them on an
``argparse`` parser, :func:`from_args` reads them back, and :func:`argv` turns a config into the
arguments that rebuild it. So the CLI, a background worker the app starts and a ``benchmarks/``
script all spell the same options the same way, and a report's ``command`` reruns its config.

An option is ``--name`` (underscores become dashes) unless ``flag`` says otherwise. Its type is the
field's: ``int``, ``float``, ``str``, ``pathlib.Path``, optional ones (``X | None``, default ``None``),
``tuple[str, ...]`` (a comma list) and ``bool`` (a switch, default ``False``). ``presets`` makes a
string option a set of switches (``--quick`` / ``--full``), its default the absence of any. A
field without :func:`option` is no option: the caller sets it (a victim from ``--modality`` and
``--victim``, a size its preset fixes).
"""
from __future__ import annotations

import argparse
import dataclasses
import typing
from typing import Any

_META = "rlab_option"


def option(default: Any = dataclasses.MISSING, *, help: str, flag: str | None = None,
           choices: tuple[str, ...] | None = None, presets: bool = False, required: bool = False) -> Any:
    """A config field that is also a command-line option (see the module's docstring); ``required``:
    the command line must give it, though the dataclass has a default."""
    meta = {"help": help, "flag": flag, "choices": choices, "presets": presets, "required": required}
    return dataclasses.field(default=default, metadata={_META: meta})


def _options(cls: type) -> list[tuple[dataclasses.Field, type, dict]]:
    hints = typing.get_type_hints(cls)
    return [(f, hints[f.name], f.metadata[_META]) for f in dataclasses.fields(cls) if _META in f.metadata]


def _flag(field: dataclasses.Field, meta: dict) -> str:
    return meta["flag"] or "--" + field.name.replace("_", "-")


def _base(kind: Any) -> Any:
    """``X`` of ``X | None``; the type itself otherwise."""
    args = [a for a in typing.get_args(kind) if a is not type(None)]
    return args[0] if type(None) in typing.get_args(kind) and len(args) == 1 else kind


def _comma_list(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip())


def add_options(parser: argparse.ArgumentParser, cls: type) -> None:
    """``cls``'s options on ``parser``."""
    for field, kind, meta in _options(cls):
        base, name = _base(kind), _flag(field, meta)
        if meta["presets"]:
            group = parser.add_mutually_exclusive_group()
            for choice in meta["choices"]:
                if choice != field.default:
                    group.add_argument(f"--{choice}", dest=field.name, action="store_const", const=choice,
                                       default=field.default, help=f"{meta['help']}: {choice}")
            continue
        common: dict[str, Any] = {"dest": field.name, "help": meta["help"]}
        if meta["required"]:
            common["required"] = True
        else:
            common["default"] = field.default
        if base is bool:
            parser.add_argument(name, action="store_true", **common)
        elif typing.get_origin(base) is tuple:
            parser.add_argument(name, type=_comma_list, metavar="A,B,...", **common)
        else:
            parser.add_argument(name, type=base, choices=meta["choices"], **common)


def from_args(cls: type, args: argparse.Namespace, **fields: Any) -> Any:
    """A ``cls`` from the parsed options, with ``fields`` (those that are no options) set as given."""
    values = {field.name: getattr(args, field.name) for field, _kind, _meta in _options(cls)}
    return cls(**fields, **values)


def argv(config: Any) -> list[str]:
    """The options that rebuild ``config``: the required ones, and the others unless at their defaults."""
    out: list[str] = []
    for field, kind, meta in _options(type(config)):
        value = getattr(config, field.name)
        if not meta["required"] and field.default is not dataclasses.MISSING and value == field.default:
            continue
        if meta["presets"]:
            out.append(f"--{value}")
        elif _base(kind) is bool:
            out.append(_flag(field, meta))
        elif isinstance(value, tuple):
            out += [_flag(field, meta), ",".join(map(str, value))]
        else:
            out += [_flag(field, meta), str(value)]
    return out

