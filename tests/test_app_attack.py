"""The Attack page run headless by Streamlit's AppTest, and the replay it draws from a trajectory."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from apptest import checked, open_app
from streamlit.testing.v1 import AppTest

from rlab_app.state.attacks import ATTACKERS
from rlab_core.agents import agent as agents
from rlab_core.agents.agent import load_adaptive_agent
from rlab_core.attacks import RandomOrderAttack, RLAttack, attack_filters
from rlab_core.attacks.replay import TrajectoryReplay, replay
from rlab_core.callbacks import Record
from rlab_core.filters import get_filter
from rlab_core.victims import Victim, get_profile

torch.set_num_threads(1)

ATTACK_PAGE = "rlab_app/pages/attack.py"


def attack_page(modality: str = "image") -> AppTest:
    """The app switched to the Attack page (and to ``modality``)."""
    return open_app(ATTACK_PAGE, "Attack", modality, timeout=120)


def chart(at: AppTest, key: str) -> dict:
    """The Plotly figure drawn with ``key`` (Streamlit ends a keyed element's id with its key)."""
    found = [json.loads(c.proto.spec) for c in at.get("plotly_chart") if c.proto.id.endswith(key)]
    assert len(found) == 1, [c.proto.id for c in at.get("plotly_chart")]
    return found[0]


def strength_sliders(at: AppTest) -> list:
    return [s for s in at.slider if s.key and s.key.startswith("strength_")]


def test_random_attack_on_image_cnn_shows_the_result_and_replays_it() -> None:
    at = attack_page()
    checked(at.radio(key="attacker_image-cnn_shipped").set_value("random").run())
    checked(at.button(key="attack").click().run())

    assert len(at.success) == 1 and at.success[0].value.startswith("Fooled: **Ankle boot** →")
    figures = {m.label: m.value for m in at.metric}
    for label in ("Queries", "With pruning", "Patches (L0)", "L2", "L∞", "SSIM", "Remove rate", "Seconds"):
        assert label in figures
    assert len(at.get("download_button")) == 6  # .npy, .png, mask .npy and .png, trajectory and result .json

    replay_slider = next(s for s in at.slider if s.label == "Step of the attack")
    steps = replay_slider.value
    assert steps == replay_slider.max > 0  # it starts at the end
    at_end = chart(at, "replay_state")
    checked(replay_slider.set_value(0).run())
    at_start = chart(at, "replay_state")
    assert at_start["data"][0]["z"] != at_end["data"][0]["z"]  # the clean input, then the adversarial one
    assert any(c.value.startswith("Step 0: the clean input") for c in at.caption)
    assert len(chart(at, "replay_prob")["data"][0]["x"]) == 1  # the chart up to step 0: the clean prediction
    assert len(at.success) == 1  # the result survives the rerun


def test_mix_hides_the_strength_slider() -> None:
    at = attack_page()
    assert at.selectbox(key="attack_filter").value == "mix"
    assert not strength_sliders(at)
    checked(at.selectbox(key="attack_filter").select("gaussian_noise").run())
    [slider] = strength_sliders(at)
    noise = get_filter("gaussian_noise")
    assert (slider.min, slider.max) == noise.strength_range
    assert slider.value == pytest.approx(attack_filters(get_profile("image-cnn"), "gaussian_noise")[1][0])
    checked(at.selectbox(key="attack_filter").select("mix").run())
    assert not strength_sliders(at)


def test_ecg_dead_pixel_starts_at_the_victims_strength() -> None:
    at = attack_page("ecg")
    checked(at.selectbox(key="attack_filter").select("dead_pixel").run())
    [slider] = strength_sliders(at)
    assert slider.value == pytest.approx(1.0)


def test_already_misclassified_input_is_not_attacked() -> None:
    at = attack_page()
    checked(at.number_input(key="sample_image-cnn").set_value(23).run())  # a test item image-cnn gets wrong
    assert "already misclassified" in at.warning[0].value
    assert not [b for b in at.button if b.key == "attack"]  # no attack offered


def test_without_an_agent_the_random_attacker_still_runs(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(agents, "AGENTS", tmp_path)  # no shipped agent for any victim
    at = attack_page()
    assert any(w.value.startswith("No such RL agent yet") for w in at.warning)
    assert at.radio(key="attacker_image-cnn_shipped").value == "random"
    assert not at.button(key="attack").disabled
    checked(at.radio(key="attacker_image-cnn_shipped").set_value("rl").run())
    assert at.button(key="attack").disabled


@pytest.mark.parametrize(("victim", "filter", "strength"), [
    ("ecg-cnn", "mix", None),
    ("image-cnn", "gaussian_noise", 0.3),
    ("video-cnn", "mix", None),
])
def test_replay_rebuilds_the_adversarial_input_exactly(victim: str, filter: str, strength: float | None) -> None:
    profile = get_profile(victim)
    sample = profile.dataset("test")[1]
    live = Record()
    result = RandomOrderAttack(filter=filter, strength=strength).run(Victim.builtin(victim), sample.x, sample.y, budget=120,
                                                                      seed=3, callbacks=[live])
    assert any(r.action == "prune" for r in result.trajectory) or not result.success
    x_adv, mask = replay(sample.x, profile, filter, strength, 3, result.trajectory)
    assert torch.equal(x_adv, result.x_adv) and torch.equal(mask, result.mask)
    # As on_step saw the steps (before a put-back prune is marked kept=False), and as trajectory.json holds them.
    assert torch.equal(replay(sample.x, profile, filter, strength, 3, live.steps)[0], result.x_adv)
    saved = json.loads(json.dumps([r.to_dict() for r in result.trajectory]))
    assert torch.equal(replay(sample.x, profile, filter, strength, 3, saved)[0], result.x_adv)
    # Step 0 is the clean input; each step's patch count is the record's (or the one before, if put back).
    assert torch.equal(replay(sample.x, profile, filter, strength, 3, result.trajectory, upto=0)[0], sample.x)
    state = TrajectoryReplay(sample.x, profile, filter, strength, 3)
    for record in result.trajectory:
        before = state.n_distorted
        state.step(record)
        assert state.n_distorted == (record.l0_patches if record.kept else before)


def test_the_hardened_weights_are_attacked_with_the_adaptive_agent() -> None:
    at = attack_page("ecg")
    assert at.radio(key="attacker_ecg-cnn_shipped").options == [ATTACKERS["rl"], ATTACKERS["random"]]
    checked(at.radio(key="weights_ecg-cnn").set_value("hardened").run())
    assert at.radio(key="attacker_ecg-cnn_hardened").options == list(ATTACKERS.values())
    sample = get_profile("ecg-cnn").dataset("test")[at.number_input(key="sample_ecg-cnn").value]
    hardened = Victim.builtin("ecg-cnn", weights="hardened")
    top1 = hardened.probabilities(sample.x).max()
    assert any(f"({top1:.1%})" in m.value for m in at.markdown if m.value.startswith("The victim says"))

    checked(at.radio(key="attacker_ecg-cnn_hardened").set_value("adaptive").run())
    checked(at.button(key="attack").click().run())
    expected = RLAttack(load_adaptive_agent(hardened)).run(hardened, sample.x, sample.y)
    assert any(c.value.endswith("against the hardened weights shipped with RLAB") for c in at.caption)
    figures = {m.label: m.value for m in at.metric}
    assert figures["With pruning"] == str(expected.queries_total) and figures["Patches (L0)"] == str(expected.l0_patches)
    assert expected.success and at.success[0].value.startswith(f"Fooled: **{expected.label_name}** → "
                                                               f"**{expected.adversarial_label_name}** after "
                                                               f"{expected.queries} queries")


def test_choosing_your_own_onnx_model_asks_for_the_file() -> None:
    at = attack_page("ecg")
    checked(at.radio(key="weights_ecg-cnn").set_value("onnx").run())
    assert any(i.value.startswith("Upload an .onnx model that takes ecg-cnn's input") for i in at.info)
    assert not [b for b in at.button if b.key == "attack"]  # nothing to attack yet


def test_a_kept_attack_is_shown_only_on_the_network_it_ran_on() -> None:
    at = attack_page("ecg")
    checked(at.radio(key="attacker_ecg-cnn_shipped").set_value("random").run())
    checked(at.button(key="attack").click().run())
    assert "Result" in [s.value for s in at.subheader]
    checked(at.radio(key="weights_ecg-cnn").set_value("hardened").run())
    assert "Result" not in [s.value for s in at.subheader]  # its figures are the shipped weights'
    checked(at.radio(key="weights_ecg-cnn").set_value("shipped").run())
    assert "Result" in [s.value for s in at.subheader]


def test_an_attack_on_a_model_that_stops_answering_says_so_and_the_page_goes_on(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from test_jail import hangs_after_clean

    monkeypatch.setenv("RLAB_MODEL_CAP_SECONDS", "3")
    sample = get_profile("image-cnn").dataset("test")[0]
    model = hangs_after_clean(sample.x, sample.y).SerializeToString()  # answers the clean input, then hangs
    at = attack_page("image")
    checked(at.radio(key="weights_image-cnn").set_value("onnx").run())
    checked(at.file_uploader(key="onnx_image-cnn").set_value(("hangs.onnx", model, "application/octet-stream")).run())
    assert not at.error
    checked(at.radio(key="attacker_image-cnn_onnx").set_value("random").run())
    checked(at.button(key="attack").click().run())
    assert [e.value.startswith("hangs.onnx took longer than 1 s to answer 1 input, and was stopped") for e in at.error] \
        == [True], [e.value for e in at.error]
    assert "Result" not in [s.value for s in at.subheader]
    checked(at.radio(key="weights_image-cnn").set_value("shipped").run())  # the page goes on, on another network
    checked(at.radio(key="attacker_image-cnn_shipped").set_value("random").run())
    checked(at.button(key="attack").click().run())
    assert not at.error and "Result" in [s.value for s in at.subheader]
