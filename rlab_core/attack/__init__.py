"""The attack: the distortion state, the session every attacker drives, and the RL attack.

The agent itself (training, loading) lives in :mod:`rlab_core.attack.agent`, which imports
Stable-Baselines3; it is not imported here so that the rest stays light.
"""
from rlab_core.attack.distortion import Distortion, default_context, patch_seed
from rlab_core.attack.result import AttackResult, StepRecord
from rlab_core.attack.runner import attack
from rlab_core.attack.session import AttackSession

__all__ = ["AttackResult", "AttackSession", "Distortion", "StepRecord", "attack", "default_context", "patch_seed"]
