"""The agent's network: a small N-d CNN over the patch grid and one shared head per patch.

The features extractor turns the observation (see :mod:`rlab_core.agents.env`) into ``width``
features per patch: the view is cut into patches by a strided convolution, mixed with the
distortion mask and the neighbours' features by two 3-wide convolutions, then joined with an
embedding of the victim's answer and budget and with the mean over all patches. The action head
applies one linear map to every patch's features, giving that patch's ``n_filters`` add logits
and its remove logit; so the same weights serve every patch, and the network stays small
however fine the grid. The value head reads all patch features through an MLP.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from typing import cast

import torch
from gymnasium import spaces
from sb3_contrib.common.maskable.policies import MaskableActorCriticPolicy
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor
from torch import nn

CONV: dict[int, Callable[..., nn.Module]] = {1: nn.Conv1d, 2: nn.Conv2d, 3: nn.Conv3d}


class PatchFeatures(BaseFeaturesExtractor):
    """Observation dict -> ``(B, width * n_patches)``, patch-major after a channel-major view."""

    def __init__(self, observation_space: spaces.Dict, width: int = 32) -> None:
        view, mask, state = (observation_space[k].shape for k in ("view", "mask", "state"))
        assert view is not None and mask is not None and state is not None  # Box spaces: always shaped
        grid = mask[1:]
        cells = tuple(v // g for v, g in zip(view[1:], grid))
        super().__init__(observation_space, features_dim=width * math.prod(grid))
        conv = CONV[len(grid)]
        self.width, self.n_patches = width, math.prod(grid)
        self.patchify = nn.Sequential(conv(view[0], width, kernel_size=cells, stride=cells), nn.ReLU())
        self.mix = nn.Sequential(
            conv(width + mask[0], width, kernel_size=3, padding=1), nn.ReLU(),
            conv(width, width, kernel_size=3, padding=1), nn.ReLU(),
        )
        self.embed_state = nn.Sequential(nn.Linear(state[0], width), nn.ReLU())
        self.join = nn.Sequential(conv(3 * width, width, kernel_size=1), nn.ReLU())

    def forward(self, obs: dict[str, torch.Tensor]) -> torch.Tensor:
        local = self.mix(torch.cat([self.patchify(obs["view"]), obs["mask"]], dim=1))
        flat = local.flatten(2)  # (B, width, P)
        state = self.embed_state(obs["state"])[:, :, None].expand_as(flat)
        overall = flat.mean(dim=2, keepdim=True).expand_as(flat)
        joined = torch.cat([flat, state, overall], dim=1).reshape(len(flat), 3 * self.width, *local.shape[2:])
        return self.join(joined).flatten(2).flatten(1)


class PerPatchHead(nn.Module):
    """``(B, width * P)`` features -> ``(B, (kinds) * P)`` logits, one shared linear map per patch."""

    def __init__(self, width: int, kinds: int) -> None:
        super().__init__()
        self.width = width
        self.linear = nn.Linear(width, kinds)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        per_patch = features.reshape(len(features), self.width, -1).transpose(1, 2)  # (B, P, width)
        return self.linear(per_patch).transpose(1, 2).flatten(1)  # kind-major: a = kind * P + patch


class PatchPolicy(MaskableActorCriticPolicy):
    """MaskablePPO's actor-critic with :class:`PatchFeatures` and :class:`PerPatchHead`."""

    action_space: spaces.Discrete
    features_extractor: PatchFeatures

    def __init__(self, observation_space: spaces.Dict, action_space: spaces.Discrete, lr_schedule, **kwargs) -> None:
        kwargs.setdefault("features_extractor_class", PatchFeatures)
        kwargs.setdefault("net_arch", {"pi": [], "vf": [64]})
        super().__init__(observation_space, action_space, lr_schedule, **kwargs)

    def _build(self, lr_schedule) -> None:
        super()._build(lr_schedule)
        width = self.features_extractor.width
        # Discrete.n is a NumPy integer; nn.Linear uses it as an int.
        kinds = cast(int, self.action_space.n // self.features_extractor.n_patches)
        self.action_net = PerPatchHead(width, kinds)
        nn.init.orthogonal_(self.action_net.linear.weight, gain=0.01)
        nn.init.zeros_(self.action_net.linear.bias)
        # As in SB3's own _build: optimizer_class is typed as the Optimizer base class, whose __init__ takes no lr.
        self.optimizer = self.optimizer_class(self.parameters(), lr=lr_schedule(1), **self.optimizer_kwargs)  # type: ignore[call-arg]

    def action_logits(self, obs: dict[str, torch.Tensor]) -> torch.Tensor:
        """Unmasked action logits ``(B, n_actions)``: what imitation trains and the attack reads."""
        # One tensor: the features extractor is shared (SB3's default), so no (actor, critic) pair.
        features = cast(torch.Tensor, self.extract_features(obs, self.pi_features_extractor))
        return self.action_net(self.mlp_extractor.forward_actor(features))
