"""The app run headless by Streamlit's AppTest: opening it on a page, shared by the page tests."""
from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

APP = Path(__file__).resolve().parents[1] / "app.py"


def checked(at: AppTest) -> AppTest:
    """``at`` after a run that raised nothing (the page's exceptions, if any, are the failure)."""
    assert not at.exception, [e.value for e in at.exception]
    return at


def open_app(page: str | None = None, title: str | None = None, modality: str = "image",
             timeout: float = 60) -> AppTest:
    """The app after its first run, switched to ``page`` (whose title must be ``title``), then to
    ``modality`` (the app starts on images)."""
    at = checked(AppTest.from_file(str(APP), default_timeout=timeout).run())
    if page is not None:
        checked(at.switch_page(page).run())
        assert at.title[0].value == title
    if modality != "image":
        checked(at.sidebar.selectbox(key="modality").select(modality).run())
    return at
