"""The attack: the distortion state (and, to come, the environment, the agent and the runner)."""
from rlab_core.attack.distortion import Distortion, default_context, patch_seed

__all__ = ["Distortion", "default_context", "patch_seed"]
