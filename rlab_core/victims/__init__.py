"""Victims: the built-in classifiers, how to load them, and the black-box wrapper every attack goes through."""
from rlab_core.victims.blackbox import BlackBox, BudgetExhausted
from rlab_core.victims.registry import (
    DEFAULT_VICTIM,
    MODALITIES,
    VICTIMS,
    VictimError,
    VictimSpec,
    file_sha256,
    get_spec,
    load_model,
    predict_proba,
    victims_for,
    weights_hash,
)

__all__ = [
    "DEFAULT_VICTIM",
    "MODALITIES",
    "VICTIMS",
    "BlackBox",
    "BudgetExhausted",
    "VictimError",
    "VictimSpec",
    "file_sha256",
    "get_spec",
    "load_model",
    "predict_proba",
    "victims_for",
    "weights_hash",
]
