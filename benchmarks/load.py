"""Many users at once: sessions of the app driven together in one browser, each in a context of its
own, timed, while the memory of the server and its children is sampled.

A :class:`Session` opens the Attack or Explain page in its own Chromium context (its own cookies
and websocket, so its own Streamlit session), picks a modality, a test sample, a network (the
shipped weights, or an uploaded ONNX model, always named ``model.onnx``) and a seed, and runs. The
sessions of one run go at once (``asyncio.gather`` over Playwright's async API); every step has a
timeout and the run a deadline, so a hanging app fails the run instead of stalling it.

``tests/test_load.py`` drives :func:`mixed_sessions` (four workloads, two of them uploading
different models under the same name, and a fifth uploading a model that never answers) and checks
that every session sees its own markers and none of the others'. This script measures, each run on
a fresh server (with ``RLAB_MODEL_CAP_SECONDS`` at :data:`CAP_SECONDS`), time to first result:

- with 1, 2 and 4 concurrent sessions of one workload (an image-cnn RL attack; a video-cnn
  explanation with every method), after one warm-up session that pays for the first load of
  torch, the victim and its agent (its time is reported apart, as "cold");
- in the test's mixed run of five sessions;

and the peak resident memory of the server tree (sampled every 0.25 s) in each run.

Usage: python -m benchmarks.load [--seed 0] [--sessions 1,2,4]
Writes benchmarks/load.json and the "Many users at once" section of benchmarks/reliability.md.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import statistics
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from playwright.async_api import Browser, BrowserContext, Locator, Page, async_playwright, expect

from benchmarks import hostile
from benchmarks.app_server import CHROMIUM, CHROMIUM_ARGS, MemorySampler, app_server
from benchmarks.onnx import export
from rlab_core.robustness import shipped_copy
from rlab_core.run_record import run_record
from rlab_core.sample import Sample
from rlab_core.victims import Victim, get_profile

OUT = Path(__file__).resolve().parent
UPLOAD_NAME = "model.onnx"  # every upload's name: sessions must tell models apart by their bytes
CAP_SECONDS = 4  # RLAB_MODEL_CAP_SECONDS of the server: the never-answering upload is stopped after this
# The floor too: at the default 1 s, an honest upload's single query was stopped while five sessions
# (one of them spinning the never-answering model) shared the 2 cores.
FLOOR_SECONDS = 3
SERVER_ENV = {"RLAB_MODEL_CAP_SECONDS": str(CAP_SECONDS), "RLAB_MODEL_FLOOR_SECONDS": str(FLOOR_SECONDS)}
STEP_MS = 120_000  # one step (a page, a rerun, an attack) on a 2-core machine running five sessions
DEADLINE_SECONDS = 240  # a whole run of sessions
EXPLAIN_BUDGET = 20  # queries per RL attack of an explanation: its six attacks stay short
TITLES = {"attack": "Attack", "explain": "Explain"}
MODALITY_NAMES = {"ecg": "ECG", "image": "Image", "video": "Video"}
STOPPED = re.compile(rf"^{re.escape(UPLOAD_NAME)} took longer than {CAP_SECONDS:g} s .*, and was stopped")
ANSWER = re.compile(r"The victim says (.+?) \((\d+\.\d)%\)")  # the page's sentence on the network's clean answer
RESULT = {"attack": re.compile(r"^(Fooled: .+ →|Not fooled: )"), "explain": re.compile(r"^Why the victim says ")}


@dataclass(frozen=True)
class Session:
    """One user: ``page`` ("attack" or "explain") on test sample ``sample`` of ``victim``, with
    ``seed``; against the uploaded ONNX model ``upload`` if given. ``hostile``: the upload never
    answers, so the session expects one error, then switches to the shipped weights."""

    label: str
    page: str
    victim: str
    sample: int
    seed: int
    upload: bytes | None = field(default=None, repr=False)
    hostile: bool = False

    @property
    def modality(self) -> str:
        return get_profile(self.victim).modality

    def test_sample(self) -> Sample:
        return get_profile(self.victim).dataset("test")[self.sample]

    def caption(self) -> str:
        """What the page says under the sample picker once this session's sample is picked."""
        sample = self.test_sample()
        label = "none (unlabelled)" if sample.y is None else get_profile(self.victim).class_names[sample.y]
        return f"{sample.name}, true label: {label}"

    def markers(self) -> tuple[str, ...]:
        """Texts only this session's page may show: its sample, its seed (an attack's result says it),
        its upload's error."""
        own = [self.caption()]
        if self.page == "attack" and not self.hostile:
            own.append(f"seed {self.seed}")
        return tuple(own)

    def answer(self) -> tuple[str, float]:
        """The network's clean top-1 on the sample, and its probability: computed here from the model
        itself (ONNX Runtime on the uploaded bytes, or the shipped network), not by the app."""
        return answer_of(self.victim, self.upload if not self.hostile else None, self.test_sample().x)


def answer_of(victim: str, model: bytes | None, x: torch.Tensor) -> tuple[str, float]:
    """The top-1 of ``model`` (ONNX bytes; ``None``: the shipped network) on ``x``, as the pages word it."""
    if model is None:
        probs = Victim.builtin(victim).probabilities(x)
    else:
        import onnxruntime

        session = onnxruntime.InferenceSession(model, providers=["CPUExecutionProvider"])
        scores = session.run(None, {"x": x[None].numpy().astype(np.float32)})[0][0].astype(np.float64)
        probs = np.exp(scores - scores.max()) / np.exp(scores - scores.max()).sum()
    top = int(np.argmax(probs))
    return get_profile(victim).class_names[top], float(probs[top])


def answers_shown(text: str) -> list[tuple[str, float]]:
    """Every "The victim says X (p%)" on a page, as ``(X, p)`` with ``p`` in [0, 1]."""
    return [(name, float(percent) / 100) for name, percent in ANSWER.findall(text)]


# ------------------------------------------------------------------------------------ models
def onnx_model(victim: str, perturbed: bool = False) -> bytes:
    """The victim's shipped network as ONNX bytes; ``perturbed``: with its last layer's classes
    rolled by one and its scores halved, so that it gives another top-1, at another probability."""
    network = shipped_copy(victim)
    if perturbed:
        last = [module for module in network.modules() if isinstance(module, torch.nn.Linear)][-1]
        with torch.no_grad():
            last.weight.copy_(0.5 * last.weight.roll(1, dims=0))
            last.bias.copy_(0.5 * last.bias.roll(1, dims=0))
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / UPLOAD_NAME
        export(victim, path, network)
        return path.read_bytes()


def never_answering_model() -> bytes:
    return hostile.never_answers().SerializeToString()


def correctly_classified(victim: str, count: int, start: int = 0) -> list[int]:
    """The first ``count`` test samples from ``start`` that the shipped network classifies right
    (an attack on a misclassified one has nothing to do)."""
    split, network = get_profile(victim).dataset("test"), Victim.builtin(victim)
    found: list[int] = []
    index = start
    while len(found) < count:
        item = split[index]
        if item.y is not None and network.predict(item.x) == item.y:
            found.append(index)
        index += 1
    return found


def mixed_sessions() -> list[Session]:
    """The load test's five users: an ECG attack, a video explanation, an image attack and an image
    explanation on two different uploads both named ``model.onnx`` (the shipped network, and a
    perturbed copy that answers differently), and an upload that never answers."""
    ecg = correctly_classified("ecg-cnn", 1, start=1)[0]
    image = correctly_classified("image-cnn", 1, start=3)[0]
    return [
        Session("ecg-cnn attack", "attack", "ecg-cnn", ecg, seed=101),
        Session("video-cnn explain", "explain", "video-cnn", 2, seed=202),
        Session("image-cnn attack of model.onnx (the shipped network)", "attack", "image-cnn", image, seed=303,
                upload=onnx_model("image-cnn")),
        Session("image-cnn explain of model.onnx (perturbed)", "explain", "image-cnn", image + 2, seed=404,
                upload=onnx_model("image-cnn", perturbed=True)),
        Session("image-cnn attack of model.onnx (never answers)", "attack", "image-cnn", image + 4, seed=505,
                upload=never_answering_model(), hostile=True),
    ]


# ---------------------------------------------------------------------------------- driving
@dataclass
class Outcome:
    """How a session ended: its result's text (an attack's verdict, an explanation's first line, or
    the hostile upload's error), the seconds from opening the page to it and from the click to it,
    the page's errors when it had its result, and the page's whole text at the end of the run."""

    label: str
    result: str
    seconds: float
    click_seconds: float
    errors: list[str]
    text: str = ""


class LoadFailed(AssertionError):
    """A session failed or the run passed its deadline; the message says where each session was."""


class Driver:
    """Drives one :class:`Session` in its own browser context; ``step`` says where it is."""

    def __init__(self, browser: Browser, url: str, session: Session, step_ms: int) -> None:
        self.browser, self.url, self.session, self.step_ms = browser, url, session, step_ms
        self.step = "not started"
        self.context: BrowserContext | None = None
        self.page: Page | None = None
        self.outcome: Outcome | None = None

    async def visible(self, locator: Locator, step: str) -> None:
        self.step = step
        await expect(locator).to_be_visible(timeout=self.step_ms)

    async def settled(self, page: Page) -> None:
        """The page's run is over (Streamlit's running indicator is gone)."""
        await expect(page.get_by_test_id("stStatusWidget")).to_be_hidden(timeout=self.step_ms)

    async def enter(self, page: Page, name: str | re.Pattern, value: int) -> None:
        self.step = f"entering {value} in {name}"
        box = page.get_by_role("spinbutton", name=name, exact=isinstance(name, str))
        await box.fill(str(value))
        await box.press("Enter")

    async def run(self) -> Outcome:
        try:
            return await self._run()
        except BaseException as error:
            self.step = f"{self.step}: failed ({type(error).__name__}: {error})"
            raise

    async def _run(self) -> Outcome:
        s = self.session
        self.context = await self.browser.new_context(viewport={"width": 1400, "height": 1000})
        page = self.page = await self.context.new_page()
        page.set_default_timeout(self.step_ms)
        started = time.monotonic()
        self.step = "opening the page"
        await page.goto(f"{self.url}/{s.page}")
        await self.visible(page.get_by_role("heading", name=TITLES[s.page]), "waiting for the page")
        if s.modality != "image":
            self.step = "choosing the modality"
            await page.get_by_test_id("stSidebar").get_by_test_id("stSelectbox").filter(has_text="Modality").click()
            await page.get_by_role("option", name=MODALITY_NAMES[s.modality]).click()
        first = Session(s.label, s.page, s.victim, 0, s.seed)
        await self.visible(page.get_by_text(first.caption(), exact=True), "waiting for the victim's test sample 0")
        if s.sample:
            await self.enter(page, re.compile(r"^Test sample by number"), s.sample)
            await self.visible(page.get_by_text(s.caption(), exact=True), "waiting for the sample")
        if s.upload is not None:
            self.step = "choosing an ONNX model"
            await page.get_by_text("Your ONNX model", exact=True).click()
            await self.visible(page.get_by_text(re.compile(r"^Upload an \.onnx model")), "waiting for the upload box")
            self.step = "waiting for the shipped weights' answer to go"  # else it would pass for the upload's
            await expect(page.get_by_text(re.compile(r"^The victim says "))).to_have_count(0, timeout=self.step_ms)
            self.step = "uploading the model"
            uploader = page.get_by_test_id("stFileUploader").filter(has_text="Your classifier as ONNX")
            await uploader.locator("input[type=file]").set_input_files(
                {"name": UPLOAD_NAME, "mimeType": "application/octet-stream", "buffer": s.upload})
        if s.hostile:
            return await self.refused(page, started)
        await self.visible(page.get_by_text(re.compile(r"^The victim says ")), "waiting for the network's answer")
        await self.enter(page, "Seed", s.seed)
        if s.page == "explain":
            await self.enter(page, "Query budget", EXPLAIN_BUDGET)
        self.step = "waiting for the settings' rerun"
        await self.settled(page)
        self.step = "pressing the button"
        clicked = time.monotonic()
        await page.get_by_role("button", name=TITLES[s.page], exact=True).click()
        result = page.get_by_text(RESULT[s.page])
        await self.visible(result, "waiting for the result")
        done = time.monotonic()
        self.step = "waiting for the run to end"
        await self.settled(page)
        self.outcome = Outcome(s.label, await result.inner_text(), done - started, done - clicked,
                               await errors(page))
        self.step = "done"
        return self.outcome

    async def refused(self, page: Page, started: float) -> Outcome:
        """The never-answering upload: its one error, then the shipped weights answer in the same session."""
        error = page.get_by_test_id("stAlertContentError").filter(has_text=STOPPED)
        await self.visible(error, "waiting for the upload's error")
        done = time.monotonic()
        await self.settled(page)
        shown, message = await errors(page), (await error.inner_text()).strip()  # before the error goes
        self.step = "going back to the shipped weights"
        await page.get_by_text("The shipped weights", exact=True).click()
        await self.visible(page.get_by_text(re.compile(r"^The victim says ")), "waiting for the shipped weights' answer")
        await self.settled(page)
        self.outcome = Outcome(self.session.label, message, done - started, done - started, shown)
        self.step = "done"
        return self.outcome

    async def close(self) -> None:
        if self.context is not None:
            await self.context.close()


async def errors(page: Page) -> list[str]:
    return [text.strip() for text in await page.get_by_test_id("stAlertContentError").all_inner_texts()]


async def drive(url: str, sessions: list[Session], deadline: float = DEADLINE_SECONDS, step_ms: int = STEP_MS,
                screenshots: Path | None = None) -> list[Outcome]:
    """Every session at once, each in its own context of one headless Chromium; their outcomes, each
    with its page's whole text once all are done. Raises :class:`LoadFailed` (after a screenshot of
    each page into ``screenshots``, if given) when a session fails or the run passes ``deadline``."""
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        drivers = [Driver(browser, url, session, step_ms) for session in sessions]
        try:
            try:
                ended = await asyncio.wait_for(asyncio.gather(*(d.run() for d in drivers), return_exceptions=True),
                                               deadline)
            except TimeoutError:
                await shoot(drivers, screenshots)
                raise LoadFailed(f"the sessions were not over within {deadline:g} s:\n" + where(drivers)) from None
            if any(isinstance(e, BaseException) for e in ended):
                await shoot(drivers, screenshots)
                raise LoadFailed("a session failed:\n" + where(drivers))
            outcomes = []
            for d in drivers:
                assert d.page is not None and d.outcome is not None  # every run() returned
                d.outcome.text = await d.page.locator("body").inner_text()
                outcomes.append(d.outcome)
            return outcomes
        finally:
            await asyncio.gather(*(d.close() for d in drivers), return_exceptions=True)
            await browser.close()


def where(drivers: list[Driver]) -> str:
    return "\n".join(f"- {d.session.label}: {d.step}" for d in drivers)


async def shoot(drivers: list[Driver], folder: Path | None) -> None:
    if folder is None:
        return
    folder.mkdir(parents=True, exist_ok=True)
    for number, d in enumerate(drivers):
        if d.page is not None:
            try:  # Streamlit scrolls inside its main area: fit the window to it first
                height = await d.page.get_by_test_id("stMain").evaluate("main => main.scrollHeight", timeout=10_000)
                await d.page.set_viewport_size({"width": 1400, "height": min(int(height) + 40, 6000)})
                await d.page.screenshot(path=folder / f"session-{number}.png", full_page=True, timeout=10_000)
            except Exception:  # a closed or hung page: the message already says where it was
                pass


# -------------------------------------------------------------------------------- measuring
WORKLOADS = {"attack": "image-cnn attack", "explain": "video-cnn explain"}


def workload(kind: str, count: int, first: int) -> list[Session]:
    """``count`` sessions of one kind, on consecutive (correctly classified) samples from ``first``,
    each its own seed: no two share a cached answer."""
    if kind == "attack":
        samples = correctly_classified("image-cnn", count, start=first)
        return [Session(f"{WORKLOADS[kind]} {i}", "attack", "image-cnn", samples[i], seed=first + i) for i in range(count)]
    return [Session(f"{WORKLOADS[kind]} {i}", "explain", "video-cnn", first + i, seed=first + i) for i in range(count)]


def measure(name: str, sessions: list[Session], warm_up: Session | None) -> dict:
    """One run on a fresh server: the warm-up session alone (if any), then ``sessions`` at once."""
    with tempfile.TemporaryDirectory() as folder, \
            app_server(Path(folder) / "streamlit.log", SERVER_ENV) as (url, server), MemorySampler(server.pid) as memory:
        cold = asyncio.run(drive(url, [warm_up]))[0].seconds if warm_up is not None else None
        started = time.monotonic()
        outcomes = asyncio.run(drive(url, sessions))
        wall = time.monotonic() - started
    seconds = [o.seconds for o in outcomes]
    row = {"run": name, "sessions": len(sessions), "cold_seconds": None if cold is None else round(cold, 1),
           "median_seconds": round(statistics.median(seconds), 1), "max_seconds": round(max(seconds), 1),
           "median_click_seconds": round(statistics.median(o.click_seconds for o in outcomes), 1),
           "wall_seconds": round(wall, 1), "peak_mb": round(memory.peak_mb), "processes": memory.processes,
           "results": [{"session": o.label, "seconds": round(o.seconds, 1), "click_seconds": round(o.click_seconds, 1),
                        "result": o.result} for o in outcomes]}
    print(json.dumps({k: v for k, v in row.items() if k != "results"}), flush=True)
    return row


def markdown(report: dict) -> str:
    lines = [SECTION, "", f"Measured by `{report['command']}` on {report['machine']}, commit "
             f"{report['run']['git_commit'][:10]}. Each run is a fresh `streamlit run app.py` "
             f"(`RLAB_MODEL_CAP_SECONDS={CAP_SECONDS}`) driven by headless Chromium, one browser context per "
             "session, the sessions at once; Chromium ran on the same 2 cores. *Seconds*: from opening the page "
             "to the result on screen (median and slowest session), with the scripted clicks in between; "
             "*after the click*: from pressing Attack or Explain. *Cold*: one session alone on the fresh server "
             "first, loading torch, the victim and its agent, before the timed sessions. *Peak memory*: the "
             "largest resident set of the server and its children (the ONNX jail workers) sampled every 0.25 s, "
             "summed over the processes.", "",
             "| run | sessions | cold (s) | seconds, median / slowest | after the click, median (s) | "
             "peak memory (MB) | processes |", "|---|---|---|---|---|---|---|"]
    for r in report["rows"]:
        cold = "" if r["cold_seconds"] is None else r["cold_seconds"]
        lines.append(f"| {r['run']} | {r['sessions']} | {cold} | {r['median_seconds']} / {r['max_seconds']} | "
                     f"{r['median_click_seconds']} | {r['peak_mb']:,} | {r['processes']} |")
    mixed = next((r for r in report["rows"] if r["run"] == "mixed"), None)
    if mixed is not None:
        lines += ["", "The mixed run is `tests/test_load.py`'s five sessions, without its checks:"]
        lines += [f"- {r['session']}: {r['seconds']} s; {r['result']}" for r in mixed["results"]]
    return "\n".join(lines) + "\n"


SECTION = "## Many users at once"
BEGIN = "<!-- written by python -m benchmarks.load: from here to its end marker -->"
END = "<!-- end of benchmarks.load's section -->"


def write_section(page: Path, section: str) -> None:
    """Put ``section`` between :data:`BEGIN` and :data:`END` in ``page``, replacing what was there,
    or before ``reliability.py``'s measured part the first time (which that script keeps)."""
    from benchmarks.reliability import MEASURED

    text = page.read_text()
    block = f"{BEGIN}\n{section}{END}\n"
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        text = head + block + rest.split(END, 1)[1].lstrip("\n")
    elif MEASURED in text:
        head, rest = text.split(MEASURED, 1)
        text = head + block + "\n" + MEASURED + rest
    else:
        text = text.rstrip("\n") + "\n\n" + block
    page.write_text(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", default="1,2,4", help="concurrent sessions of each workload, comma-separated")
    parser.add_argument("--workloads", default="attack,explain", help="attack (image-cnn), explain (video-cnn)")
    parser.add_argument("--no-mixed", action="store_true", help="skip the mixed run of the load test's sessions")
    parser.add_argument("--seed", type=int, default=0, help="offsets the samples and seeds the sessions use")
    args = parser.parse_args()
    counts = [int(n) for n in args.sessions.split(",")]
    rows = []
    for kind in args.workloads.split(","):
        for count in counts:
            first = 10 + args.seed + 10 * count  # each run its own samples and seeds
            warm_up = workload(kind, 1, first + 100)[0]
            rows.append(measure(WORKLOADS[kind], workload(kind, count, first), warm_up))
    if not args.no_mixed:
        rows.append(measure("mixed", mixed_sessions(), None))
    report = {"run": run_record(args.seed), "seed": args.seed,
              "command": "python -m benchmarks.load" + (f" --seed {args.seed}" if args.seed else ""),
              "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}",
              "cap_seconds": CAP_SECONDS, "explain_budget": EXPLAIN_BUDGET, "rows": rows}
    (OUT / "load.json").write_text(json.dumps(report, indent=1) + "\n")
    section = markdown(report)
    write_section(OUT / "reliability.md", section)
    print(section)


if __name__ == "__main__":
    main()
