"""Victims: the one handle on a classifier (:class:`Victim`), the built-in victims' profiles, and
the black-box wrapper every attack goes through."""
from rlab_core.victims.blackbox import BlackBox, BudgetExhausted
from rlab_core.victims.profiles import (
    DEFAULT_VICTIM,
    MODALITIES,
    PROFILES,
    VictimError,
    VictimProfile,
    file_sha256,
    get_profile,
    victims_for,
)
from rlab_core.victims.victim import (
    WEIGHT_CHOICES,
    Victim,
    hardened_path,
    weight_choices,
    weights_file,
)

__all__ = [
    "DEFAULT_VICTIM",
    "MODALITIES",
    "PROFILES",
    "WEIGHT_CHOICES",
    "BlackBox",
    "BudgetExhausted",
    "Victim",
    "VictimError",
    "VictimProfile",
    "file_sha256",
    "get_profile",
    "hardened_path",
    "victims_for",
    "weight_choices",
    "weights_file",
]
