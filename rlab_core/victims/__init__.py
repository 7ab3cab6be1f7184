"""Victims: the built-in classifiers, how to load them, and (soon) the black-box wrapper."""
from rlab_core.victims.registry import (
    DEFAULT_VICTIM,
    MODALITIES,
    VICTIMS,
    VictimError,
    VictimSpec,
    get_spec,
    load_model,
    predict_proba,
    victims_for,
    weights_hash,
)

__all__ = ["DEFAULT_VICTIM", "MODALITIES", "VICTIMS", "VictimError", "VictimSpec", "get_spec", "load_model",
           "predict_proba", "victims_for", "weights_hash"]
