"""The one handle on a classifier: :class:`Victim`.

A victim is a network (a ``torch.nn.Module``, an uploaded ONNX model running in its jail, or any
callable from a float batch to class scores) together with what every attack and explanation needs
to know of it: the shape of one input, the class names, the modality, the patch grid and the
filters' strengths, and a hash of its weights so that results can say what they were made on.

Built-in victims come from their profile (:mod:`rlab_core.victims.profiles`). Until the own-model
issue lifts the need, an uploaded or notebook network is shaped ``like`` a built-in victim, which
lends it the grid, the strengths, the class names, the test split and the RL agent.
"""
from __future__ import annotations

import hashlib
import pickle
from collections.abc import Callable, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from rlab_core import ROOT, relative_to_root
from rlab_core.patches import PatchGrid
from rlab_core.victims.profiles import (
    MODALITIES,
    WEIGHTS,
    VictimError,
    VictimProfile,
    file_sha256,
    get_profile,
)

Network = nn.Module | Callable[[torch.Tensor], torch.Tensor]
HARDENED_RUNS = ROOT / "runs" / "robustness"  # the Robustness page's runs: runs/robustness/<victim>/
# The weights a built-in victim can be loaded with, by name (or give a path to a weights file).
WEIGHT_CHOICES = {"shipped": "the shipped weights", "hardened": "the hardened weights shipped with RLAB",
                  "last-run": "the weights hardened by the Robustness page's last run"}
MODALITY_OF_RANK = {2: "ecg", 3: "image", 4: "video"}  # the rank of one input, channels first


def hardened_path(name: str, folder: Path | None = None) -> Path:
    """Where the hardened weights of built-in ``name`` go: ``assets/victims/<name>-hardened.pt``, or ``folder``."""
    return Path(folder or WEIGHTS) / f"{name}-hardened.pt"


def hardened_run_folder(name: str) -> Path:
    """Where the Robustness page's run of built-in ``name`` writes: ``runs/robustness/<name>/``."""
    return HARDENED_RUNS / name


def weights_file(name: str, choice: str) -> Path:
    """The file of the weights ``choice`` (a key of :data:`WEIGHT_CHOICES`) of built-in ``name``."""
    files = {"shipped": get_profile(name).weights_path, "hardened": hardened_path(name),
             "last-run": hardened_path(name, hardened_run_folder(name))}
    if choice not in files:
        raise VictimError(f"unknown weights {choice!r}; known: {', '.join(files)}")
    return files[choice]


def weight_choices(name: str) -> list[str]:
    """The weights built-in ``name`` can be loaded with here: the shipped ones, and the hardened ones that exist."""
    hardened = ("hardened", "last-run") if get_profile(name).robustness is not None else ()
    return ["shipped", *(choice for choice in hardened if weights_file(name, choice).exists())]


def _existing_hardened(profile: VictimProfile, choice: str) -> Path:
    path = weights_file(profile.name, choice)
    if profile.robustness is None:
        raise VictimError(f"{profile.name} is a pretrained network, not fine-tuned here: only its shipped weights exist")
    if not path.exists():
        how = ("start a run on the Robustness page" if choice == "last-run"
               else f"make them with: python -m benchmarks.robustness --victim {profile.name}")
        raise VictimError(f"{profile.name} has no {choice} weights ({relative_to_root(path)}); {how}")
    return path


@lru_cache(maxsize=8)
def _shipped_network(name: str) -> nn.Module:
    profile = get_profile(name)
    model = profile.build()
    if profile.trained_here:
        if not profile.weights_path.exists():
            raise VictimError(f"no weights for {name} at {profile.weights_path}; "
                              f"train them with: python -m rlab_core train-victim --victim {name}")
        model.load_state_dict(torch.load(profile.weights_path, map_location="cpu", weights_only=True))
    return model.eval()


@lru_cache(maxsize=8)
def _network_from_file(name: str, path: Path, modified: int) -> nn.Module:
    """A fresh network of ``name`` with the weights at ``path``, once per version of the file."""
    model = get_profile(name).build()
    try:
        model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    except (RuntimeError, EOFError, pickle.UnpicklingError) as err:  # a truncated file, or another network's
        raise VictimError(f"{relative_to_root(path)} does not hold weights of {name}: {err}") from None
    return model.eval()


def module_sha256(module: nn.Module) -> str:
    """SHA-256 (16 hex digits) of a module's parameters and buffers, in state-dict order."""
    digest = hashlib.sha256()
    for key, tensor in module.state_dict().items():
        digest.update(key.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()[:16]


class Victim:
    """A classifier seen as RLAB sees it.

    Args:
        network: a ``torch.nn.Module`` (put in eval mode), or any callable mapping a float batch
            ``(B, *input_shape)`` to scores ``(B, K)``: logits, or log-probabilities (a softmax gives
            back probabilities from either).
        input_shape: one input without the batch axis, channels first: ECG ``(leads, time)``,
            image ``(C, H, W)``, video ``(C, T, H, W)``; values in ``[0, 1]``.
        class_names: one name per output score.
        patch_size: the patch grid over the non-channel axes (see :class:`PatchGrid`).
        modality: ``"ecg"``, ``"image"`` or ``"video"``; by default read from the rank of ``input_shape``.
        strengths: filter strengths that differ from the filters' defaults.
        name: what reports call it. weights: which weights it holds (``"shipped"``, ``"hardened"``,
            ``"last-run"``, a file, ``"onnx"``, ``"torch"``, ``"callable"``).
        sha256: the hash of its weights; ``None`` for a bare callable (recorded as such).
        profile: the built-in profile it is, or is shaped like (its agent, test split, recipes).
        weights_path: the file its weights were loaded from (built-in victims).
        multi_label: its scores are one independent logit per class (several classes present at
            once, as on a mosaic): probabilities are their sigmoids, not a softmax.
        top_k: an attack succeeds once the attacked class leaves the ``top_k`` highest scores (1:
            once it is no longer the top-1; a mosaic of four objects has 4).
    """

    def __init__(self, network: Network, input_shape: Sequence[int], class_names: Sequence[str], *,
                 patch_size: Sequence[int], modality: str | None = None, strengths: dict[str, float] | None = None,
                 name: str = "model", weights: str = "callable", sha256: str | None = None,
                 profile: VictimProfile | None = None, weights_path: Path | None = None, multi_label: bool = False,
                 top_k: int = 1) -> None:
        if isinstance(network, nn.Module):
            network.eval()
        elif not callable(network):
            raise VictimError(f"a victim's network is a torch module or a callable, not {type(network).__name__}")
        self.network = network
        self.input_shape: tuple[int, ...] = tuple(int(s) for s in input_shape)
        self.modality = modality or MODALITY_OF_RANK.get(len(self.input_shape), "")
        if self.modality not in MODALITIES:
            raise VictimError(f"inputs of shape {self.input_shape} are none of {', '.join(MODALITIES)}; say which "
                              "with modality=")
        self.class_names: tuple[str, ...] = tuple(class_names)
        self.grid = PatchGrid(self.input_shape, patch_size)
        self.strengths = dict(strengths or {})
        self.name, self.weights, self.sha256, self.profile = name, weights, sha256, profile
        self.weights_path = weights_path  # the file a built-in victim's weights came from
        if not 1 <= int(top_k) < max(2, len(self.class_names)):
            raise VictimError(f"top_k must be at least 1 and fewer than the {len(self.class_names)} classes, got {top_k}")
        self.multi_label, self.top_k = bool(multi_label), int(top_k)

    # ------------------------------------------------------------------------------ constructors
    @classmethod
    def builtin(cls, name: str, weights: str | Path = "shipped") -> Victim:
        """Built-in victim ``name`` with its ``weights``: a key of :data:`WEIGHT_CHOICES`, or the path
        of a weights file of the same network (loaded ``weights_only``, never unpickled)."""
        profile = get_profile(name)
        if weights == "shipped":
            network, path = _shipped_network(name), profile.weights_path
        else:
            path = _existing_hardened(profile, weights) if isinstance(weights, str) else Path(weights)
            if not path.is_file():
                raise VictimError(f"{path}: no such weights file")
            network = _network_from_file(name, path.resolve(), path.stat().st_mtime_ns)
        return cls(network, profile.input_shape, profile.class_names, patch_size=profile.patch_size,
                   modality=profile.modality, strengths=profile.strengths, name=name,
                   weights=weights if isinstance(weights, str) else relative_to_root(path),
                   sha256=file_sha256(path), profile=profile, weights_path=path, multi_label=profile.multi_label,
                   top_k=profile.top_k)

    @classmethod
    def from_onnx(cls, model: Path | bytes, like: str, filename: str | None = None, limits: Any = None) -> Victim:
        """An ONNX classifier, a file or its bytes, shaped ``like`` a built-in victim and run in its own
        jail (see :mod:`rlab_core.victims.onnx_model`; ``limits``: a ``JailLimits``). It is checked on a
        probe batch first; raises ``VictimError`` (``ModelStopped`` when it hits a limit)."""
        from rlab_core.victims.onnx_model import load_onnx, load_onnx_file

        profile = get_profile(like)
        if isinstance(model, bytes):
            network = load_onnx(model, profile, filename or "model.onnx", limits)
        else:
            network = load_onnx_file(Path(model), profile, limits)
        return cls.like(network, like, name=network.filename, weights="onnx", sha256=network.sha256)

    @classmethod
    def from_torch(cls, module: nn.Module, like: str, name: str = "torch module") -> Victim:
        """A PyTorch module taking ``like``'s inputs and giving one score per ``like`` class."""
        if not isinstance(module, nn.Module):
            raise VictimError(f"from_torch takes a torch.nn.Module, not {type(module).__name__}")
        return cls.like(module, like, name=name, weights="torch", sha256=module_sha256(module))

    @classmethod
    def like(cls, network: Network, like: str, *, name: str, weights: str, sha256: str | None) -> Victim:
        """``network`` with the shape, classes, grid, strengths and agent of built-in ``like``."""
        profile = get_profile(like)
        return cls(network, profile.input_shape, profile.class_names, patch_size=profile.patch_size,
                   modality=profile.modality, strengths=profile.strengths, name=name, weights=weights,
                   sha256=sha256, profile=profile, multi_label=profile.multi_label, top_k=profile.top_k)

    # ---------------------------------------------------------------------------------- asking it
    @property
    def white_box(self) -> bool:
        """Whether gradients can be read from it (a torch module that is not a jailed ONNX model)."""
        from rlab_core.victims.onnx_model import OnnxClassifier

        return isinstance(self.network, nn.Module) and not isinstance(self.network, OnnxClassifier)

    @torch.no_grad()
    def scores(self, batch: torch.Tensor) -> torch.Tensor:
        """The network's raw scores ``(B, K)`` for a float batch ``(B, *input_shape)`` (not counted:
        attacks ask through a :class:`~rlab_core.victims.blackbox.BlackBox`)."""
        scores = self.network(batch)
        if not isinstance(scores, torch.Tensor) or scores.dim() != 2 or scores.shape[0] != batch.shape[0]:
            raise VictimError(f"the victim must return scores (B, K) = ({batch.shape[0]}, K), got "
                              f"{tuple(getattr(scores, 'shape', ())) or type(scores).__name__}")
        return scores

    def probabilities(self, x: torch.Tensor | np.ndarray) -> np.ndarray:
        """Class probabilities (float64) of one input ``(K,)`` or a batch ``(B, K)``: a softmax of the
        scores, or for a multi-label victim each class's own sigmoid; not counted."""
        batch, single = self.as_batch(x)
        scores = self.scores(batch).detach().double()
        probs = (scores.sigmoid() if self.multi_label else scores.softmax(dim=-1)).cpu().numpy()
        return probs[0] if single else probs

    def predict(self, x: torch.Tensor | np.ndarray) -> int:
        """The top-1 class of one input; not counted."""
        return int(np.argmax(self.probabilities(x)))

    def as_batch(self, x: torch.Tensor | np.ndarray) -> tuple[torch.Tensor, bool]:
        """A float32 copy of ``x`` as a batch (a copy: the network may work in place) on the network's
        device, and whether ``x`` was one input. Raises ``ValueError`` on a wrong shape, NaN or inf."""
        x = torch.as_tensor(x)
        shape = tuple(x.shape)
        single = shape == self.input_shape
        if not single and not (len(shape) == len(self.input_shape) + 1 and shape[1:] == self.input_shape
                                and shape[0] > 0):
            raise ValueError(f"expected an input of shape {self.input_shape} or a batch (B, *{self.input_shape}), "
                             f"got {shape}")
        if x.is_floating_point() and not torch.isfinite(x).all():
            raise ValueError("the input contains NaN or infinite values")
        batch = x.detach().to(device=self._device(), dtype=torch.float32, copy=True)
        return (batch[None] if single else batch), single

    def _device(self) -> torch.device:
        param = next(self.network.parameters(), None) if isinstance(self.network, nn.Module) else None
        return torch.device("cpu") if param is None else param.device

    # ------------------------------------------------------------------------ what results record
    def dataset(self, split: str) -> Any:
        """A split of the built-in data this victim is (shaped like): ``len()`` and ``Sample`` items."""
        if self.profile is None:
            raise VictimError(f"{self.name} has no built-in data: give it inputs")
        return self.profile.dataset(split)

    def record(self) -> dict[str, Any]:
        """What a result says of the network: name, weights and hash (``None`` for a bare callable)."""
        return {"victim": self.name, "weights": self.weights, "weights_sha256": self.sha256,
                **({} if self.profile is None or self.profile.name == self.name else {"like": self.profile.name})}

    def __repr__(self) -> str:
        return (f"Victim({self.name!r}, {self.modality}, input_shape={self.input_shape}, "
                f"{len(self.class_names)} classes, weights={self.weights!r})")
