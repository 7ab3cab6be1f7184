"""The app in a real browser: ``streamlit run`` in a subprocess, driven by headless Chromium through Playwright.

Also writes ``docs/screenshot.png``, the picture of the app in the README, ``docs/screenshot-attack.png`` and
``docs/screenshot-explain.png``.
"""
from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from playwright.sync_api import Page, expect, sync_playwright

from benchmarks.app_server import CHROMIUM, CHROMIUM_ARGS, app_server
from rlab_core.datasets import FashionMNIST

ROOT = Path(__file__).resolve().parents[1]
SCREENSHOT = ROOT / "docs" / "screenshot.png"
ATTACK_SCREENSHOT = ROOT / "docs" / "screenshot-attack.png"
EXPLAIN_SCREENSHOT = ROOT / "docs" / "screenshot-explain.png"
IMAGE_AGENT = ROOT / "assets" / "agents" / "image-cnn.zip"
ANSWER_MS = 60_000  # the first prediction loads torch and the victim on a busy 2-core machine
TOP1 = re.compile(r"Top-1: (" + "|".join(map(re.escape, FashionMNIST.class_names)) + r") \(")


@pytest.fixture
def app_url(tmp_path: Path) -> Iterator[str]:
    """A Streamlit server of the app on a free local port, stopped after the test."""
    with app_server(tmp_path / "streamlit.log") as (url, _):
        yield url


@pytest.fixture
def page() -> Iterator[Page]:
    """A page of headless Chromium, closed after the test."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser.new_page(viewport={"width": 1400, "height": 1000})
        finally:
            browser.close()


@pytest.mark.browser
def test_upload_an_image_in_a_real_browser(app_url: str, page: Page, tmp_path: Path) -> None:
    upload = tmp_path / "ankle_boot.png"
    pixels = FashionMNIST("test")[0].x[0].numpy()
    Image.fromarray((pixels * 255).round().astype(np.uint8)).save(upload)

    page.goto(app_url)
    expect(page.get_by_text(re.compile(r"^True label: Ankle boot"))).to_be_visible(timeout=ANSWER_MS)

    with page.expect_file_chooser() as chooser:
        page.get_by_test_id("stFileUploaderDropzone").click()
    chooser.value.set_files(upload)

    expect(page.get_by_role("heading", name="ankle_boot.png")).to_be_visible(timeout=ANSWER_MS)
    expect(page.get_by_text(re.compile(r"^No true label"))).to_be_visible(timeout=ANSWER_MS)
    expect(page.get_by_text(re.compile(r"^Top-1:"))).to_have_text(TOP1)
    expect(page.get_by_test_id("stPlotlyChart")).to_have_count(2)  # the upload and the top-5 bars
    expect(page.get_by_test_id("stStatusWidget")).to_be_hidden(timeout=ANSWER_MS)  # the rerun is over
    save_screenshot(page, SCREENSHOT)


def save_screenshot(page: Page, path: Path) -> None:
    """The whole page: Streamlit scrolls inside its main area, which a full-page shot does not
    unroll, so the window is first fitted to that area's height."""
    height = page.get_by_test_id("stMain").evaluate("main => main.scrollHeight")
    page.set_viewport_size({"width": 1400, "height": min(int(height) + 40, 6000)})
    page.wait_for_timeout(1500)  # let Plotly redraw at the new size
    path.parent.mkdir(exist_ok=True)
    page.screenshot(path=path, full_page=True)


@pytest.mark.browser
def test_attack_the_default_sample_in_a_real_browser(app_url: str, page: Page) -> None:
    """The RL agent if image-cnn's is shipped (the page's default then), else the random attacker."""
    page.goto(f"{app_url}/attack")
    expect(page.get_by_role("heading", name="Attack")).to_be_visible(timeout=ANSWER_MS)
    attacker = "RL agent" if IMAGE_AGENT.exists() else "Random order (the reference)"
    expect(page.get_by_role("radio", name=attacker)).to_be_checked(timeout=ANSWER_MS)
    button = page.get_by_role("button", name="Attack", exact=True)
    expect(button).to_be_enabled(timeout=ANSWER_MS)
    button.click()

    expect(page.get_by_text(re.compile(r"^(Fooled: Ankle boot →|Not fooled:)"))).to_be_visible(timeout=ANSWER_MS)
    expect(page.get_by_text("Step of the attack")).to_be_visible(timeout=ANSWER_MS)
    expect(page.get_by_test_id("stDownloadButton")).to_have_count(6)
    expect(page.get_by_test_id("stStatusWidget")).to_be_hidden(timeout=ANSWER_MS)  # the run is over
    save_screenshot(page, ATTACK_SCREENSHOT)


@pytest.mark.browser
def test_explain_a_class_of_a_mosaic_in_a_real_browser(app_url: str, page: Page) -> None:
    """image-grid-cnn's test sample 0, its second most likely class, the default methods and a small
    budget: the set's validity, the maps, and the score table with its control rows."""
    page.goto(f"{app_url}/explain")
    expect(page.get_by_role("heading", name="Explain")).to_be_visible(timeout=ANSWER_MS)
    page.get_by_test_id("stSidebar").get_by_test_id("stSelectbox").filter(has_text="Victim").click()
    page.get_by_role("option", name="image-grid-cnn").click()
    expect(page.get_by_text(re.compile(r"^The victim says .*; the mosaic holds"))).to_be_visible(timeout=ANSWER_MS)
    expect(page.get_by_text(re.compile(r"^On this set every map that asks nothing of the model"))).to_be_visible()
    expect(page.get_by_test_id("stStatusWidget")).to_be_hidden(timeout=ANSWER_MS)  # the victim's rerun is over
    picker = page.get_by_test_id("stSelectbox").filter(has_text="Class to explain")
    expect(picker).to_have_count(1)
    picker.click()
    page.get_by_role("option").nth(1).click()
    budget = page.get_by_role("spinbutton", name="Query budget")
    budget.fill("20")
    budget.press("Enter")
    expect(page.get_by_test_id("stStatusWidget")).to_be_hidden(timeout=ANSWER_MS)  # the rerun is over
    page.get_by_role("button", name="Explain", exact=True).click()

    scores = page.get_by_test_id("stDataFrame")
    expect(scores).to_be_visible(timeout=ANSWER_MS)
    expect(page.get_by_text(re.compile(r"^dice and iou: .*gridpg"))).to_be_visible()
    expect(page.get_by_text(re.compile(r"^Saliency, Integrated Gradients and Grad-CAM are white-box")))\
        .to_be_visible()
    expect(page.get_by_test_id("stPlotlyChart")).to_have_count(3)  # the maps, and the benchmark's two budget curves
    # The grid draws its cells on a canvas: read them as a user would, through its CSV download
    # (a plain download once the browser's save dialog, which a headless one cannot show, is gone).
    page.evaluate("delete window.showSaveFilePicker")
    scores.hover()
    with page.expect_download() as download:
        scores.get_by_role("button", name="Download as CSV").click()
    lines = Path(download.value.path()).read_text(encoding="utf-8-sig").splitlines()
    table = {row["method"]: row for row in csv.DictReader(lines)}
    assert {"rl", "gradcam", "occlusion", "model_free", "edges", "random", "model_free_in_cell"} <= set(table)
    assert table["model_free_in_cell"]["access"] == "control, reads the ground truth"
    assert table["random"]["access"] == "control" and table["gradcam"]["access"] == "white-box"
    assert float(table["model_free_in_cell"]["gridpg"]) == 1.0
    save_screenshot(page, EXPLAIN_SCREENSHOT)


@pytest.mark.browser
def test_attack_your_own_onnx_model_in_a_real_browser(app_url: str, page: Page, tmp_path: Path) -> None:
    """image-cnn exported to ONNX by the test, uploaded as the network to attack."""
    import warnings

    import torch

    from rlab_core.robustness import shipped_copy

    model = tmp_path / "my-classifier.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation notice
        torch.onnx.export(shipped_copy("image-cnn"), torch.rand(1, 1, 28, 28),
                          model, dynamo=False, input_names=["x"], output_names=["scores"],
                          dynamic_axes={"x": {0: "batch"}})
    page.goto(f"{app_url}/attack")
    expect(page.get_by_role("heading", name="Attack")).to_be_visible(timeout=ANSWER_MS)
    page.get_by_text("Your ONNX model", exact=True).click()
    expect(page.get_by_text(re.compile(r"^Upload an \.onnx model"))).to_be_visible(timeout=ANSWER_MS)
    with page.expect_file_chooser() as chooser:
        page.get_by_test_id("stFileUploaderDropzone").last.click()
    chooser.value.set_files(model)

    button = page.get_by_role("button", name="Attack", exact=True)
    expect(button).to_be_enabled(timeout=ANSWER_MS)
    button.click()
    expect(page.get_by_text(re.compile(r"^(Fooled: Ankle boot →|Not fooled:)"))).to_be_visible(timeout=ANSWER_MS)
    expect(page.get_by_text(re.compile(r"against your ONNX model$"))).to_be_visible()
