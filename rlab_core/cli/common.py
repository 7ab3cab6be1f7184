"""What the commands share: the parser, the options every command declares the same way, and
turning options into a :class:`~rlab_core.victims.Victim` and an input."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from rlab_core.callbacks import Log
from rlab_core.victims.blackbox import DEFAULT_BUDGET
from rlab_core.victims.profiles import DEFAULT_VICTIM, MODALITIES, get_profile

if TYPE_CHECKING:
    from rlab_core.sample import Sample
    from rlab_core.victims import Victim
    from rlab_core.victims.jail import ModelStopped
    from rlab_core.victims.onnx_model import OnnxClassifier

TOP_K = 5


class UsageError(Exception):
    """A bad command line: reported like a bad input."""


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]  # argparse exits; we want one line and code 2
        raise UsageError(f"{self.prog}: {message}")


def _to_stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


STDERR = Log(_to_stderr)  # the commands' callback: every message on stderr, warnings prefixed "warning:"


# ------------------------------------------------------------------------------------ options
def add_input_arguments(parser: argparse.ArgumentParser) -> None:
    """The modality, the victim and the input (a test sample or a file) of a command."""
    parser.add_argument("--modality", required=True, choices=MODALITIES)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--input", type=Path, help="an ECG (.csv/.npy), image or video file")
    source.add_argument("--sample", type=int, help="item N of the victim's test split")
    parser.add_argument("--victim", help="default: the modality's default victim")
    parser.add_argument("--fs", type=float, help="ECG sampling rate in Hz, when the file has no time column")
    parser.add_argument("--beat", type=int, default=0, help="which heartbeat of a longer ECG recording (from 0)")


def add_model_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", type=Path,
                        help="your own classifier as ONNX, in place of the victim's network: it takes the victim's "
                             "input (batch, *shape) in [0, 1] and gives one score per victim class")


def add_weights_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--weights", choices=("shipped", "hardened", "last-run"), default="shipped",
                        help="the victim's shipped weights, the hardened ones shipped with RLAB, or the ones the "
                             "Robustness page's last run hardened")


def add_budget_argument(parser: argparse.ArgumentParser, help: str = "queries, the clean prediction included") -> None:
    parser.add_argument("--budget", type=int, default=DEFAULT_BUDGET, help=help)


# --------------------------------------------------------------------------- options -> objects
def resolve_victim(modality: str, name: str | None) -> str:
    """The built-in victim ``--victim`` names (default: the modality's), checked against ``--modality``."""
    name = name or DEFAULT_VICTIM[modality]
    profile = get_profile(name)
    if profile.modality != modality:
        raise UsageError(f"victim {name} is for {profile.modality}, not {modality}")
    return name


def check_budget(budget: int) -> None:
    if budget < 2:
        raise UsageError("--budget must be at least 2 (the clean prediction and one step)")


def chosen_victim(args: argparse.Namespace, name: str) -> Victim:
    """The network a command works on: the ``--model`` ONNX classifier shaped like built-in ``name``,
    or ``name`` with ``--weights``."""
    from rlab_core.victims import Victim

    if args.model is not None:
        if getattr(args, "weights", "shipped") != "shipped":
            raise UsageError("--model replaces the victim's network: it does not go with --weights")
        return Victim.from_onnx(args.model, like=name)
    return Victim.builtin(name, getattr(args, "weights", "shipped"))


def network_record(victim: Victim, like: str, seed: int | None = None) -> dict[str, Any]:
    """The ``run`` record and the network entries of a command's JSON, for the network it used."""
    from rlab_core.run_record import run_record

    uploaded = victim.weights == "onnx"
    # An uploaded network (weights "onnx") is an OnnxClassifier.
    return {"run": run_record(seed, like, victim.sha256),
            **(cast("OnnxClassifier", victim.network).record() if uploaded else {}), "weights": victim.weights}


def described(victim: Victim, like: str) -> str:
    """How a command's text names the network: the victim, or the uploaded file and what it is shaped like."""
    if victim.weights == "onnx":
        return f"{victim.name} (shaped like {like})"
    return like + ("" if victim.weights == "shipped" else f" ({victim.weights} weights)")


def read_input(path: Path, modality: str) -> bytes:
    from rlab_core.decode import InputError
    from rlab_core.io import MAX_BYTES

    if not path.is_file():
        raise InputError(f"{path}: no such file")
    if path.stat().st_size > MAX_BYTES[modality]:
        raise InputError(f"{path}: the file is {path.stat().st_size / 2**20:.0f} MB; the limit for {modality} is "
                         f"{MAX_BYTES[modality] // 2**20} MB")
    return path.read_bytes()


def chosen_input(args: argparse.Namespace, victim: str) -> Sample:
    """The ``--sample`` or ``--input`` of a command, as built-in ``victim``'s input."""
    from rlab_core.io import load_input

    if args.sample is not None:
        return test_sample(victim, args.sample)
    data = read_input(args.input, args.modality)
    return load_input(data, args.input.name, get_profile(victim), fs=args.fs, beat=args.beat).sample


def test_sample(victim: str, index: int) -> Sample:
    dataset = get_profile(victim).dataset("test")
    if not 0 <= index < len(dataset):
        raise UsageError(f"--sample {index} is out of range: {victim}'s test split has {len(dataset)} items "
                         f"(0-{len(dataset) - 1})")
    return dataset[index]


# ------------------------------------------------------------------------------ a stopped model
def stopped_summary(stopped: ModelStopped) -> dict[str, Any]:
    """What a command's JSON says of a run that a model's jail stopped."""
    return {"stopped": str(stopped), "queries_at_stop": stopped.queries}


def write_stopped(args: argparse.Namespace, record: dict, name: str, more: dict | None = None) -> None:
    """A stopped run's record: printed with ``--json``, and written as ``name`` (and ``more``'s
    files) in ``--out``. The caller then re-raises, and ``main`` says why in one line."""
    if args.json:
        print(json.dumps(record))
    if args.out:
        from rlab_core.background import write_json

        for file, content in {name: record, **(more or {})}.items():
            write_json(args.out / file, content)
