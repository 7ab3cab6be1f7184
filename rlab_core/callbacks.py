"""One callback protocol: how a long computation tells whoever follows it where it is.

Every piece of work that takes a while (an attack, an explanation, training a victim or an agent,
a benchmark, a robustness run) takes ``callbacks``: a sequence of :class:`Callback`, each told of
the same events, as SB3's and Keras's callbacks are. A hook a callback does not override does
nothing, so a callback says only what it cares about:

- :meth:`Callback.on_phase`: a phase of ``total`` steps begins (a benchmark's attacks, the
  batches of a fine-tuning, the methods of an explanation);
- :meth:`Callback.on_advance`: ``n`` more of its steps are done;
- :meth:`Callback.on_phase_end`: the phase is over (an early stop skips its remaining steps);
- :meth:`Callback.on_resume`: a phase an earlier, stopped run finished is read back, at its count;
- :meth:`Callback.on_message`: a line for a log; ``warning`` for what the user should heed (an
  agent trained against other weights);
- :meth:`Callback.on_attack_step`: an attack took a step (a page draws it live).

Ready-made here: :class:`Log` (messages to a function: the CLI's stderr), :class:`Record` (keeps
every event: tests, an app's notes) and :class:`Tally` (each phase's count: what a run keeps of a
finished step). :class:`rlab_core.background.Progress` writes a progress file the app polls.
Nothing here imports torch.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rlab_core.attacks.result import StepRecord


class Callback:
    """Told of a computation's events; every hook does nothing unless overridden."""

    def on_phase(self, phase: str, total: int, message: str = "") -> None:
        """Phase ``phase`` of ``total`` steps begins."""

    def on_advance(self, n: int = 1, message: str | None = None) -> None:
        """``n`` more steps of the current phase are done."""

    def on_phase_end(self) -> None:
        """The current phase is over, whether or not all its steps ran."""

    def on_resume(self, phase: str, done: int, total: int, seconds: float, message: str) -> None:
        """Phase ``phase``, finished by an earlier run (``done`` of ``total`` steps in ``seconds``), is read back."""

    def on_message(self, message: str, warning: bool = False) -> None:
        """A line for whoever follows the run."""

    def on_attack_step(self, step: StepRecord) -> None:
        """An attack took a step (its :class:`~rlab_core.attacks.result.StepRecord`)."""


class CallbackList(Callback):
    """Many callbacks as one: each event goes to every callback, in order."""

    def __init__(self, callbacks: Iterable[Callback] = ()) -> None:
        self.callbacks: list[Callback] = []
        for callback in callbacks:
            if not isinstance(callback, Callback):
                raise TypeError(f"callbacks are rlab_core.callbacks.Callback objects, not {type(callback).__name__} "
                                f"(wrap a function in Log, or subclass Callback)")
            self.callbacks.extend(callback.callbacks if isinstance(callback, CallbackList) else [callback])

    def on_phase(self, phase: str, total: int, message: str = "") -> None:
        for callback in self.callbacks:
            callback.on_phase(phase, total, message)

    def on_advance(self, n: int = 1, message: str | None = None) -> None:
        for callback in self.callbacks:
            callback.on_advance(n, message)

    def on_phase_end(self) -> None:
        for callback in self.callbacks:
            callback.on_phase_end()

    def on_resume(self, phase: str, done: int, total: int, seconds: float, message: str) -> None:
        for callback in self.callbacks:
            callback.on_resume(phase, done, total, seconds, message)

    def on_message(self, message: str, warning: bool = False) -> None:
        for callback in self.callbacks:
            callback.on_message(message, warning)

    def on_attack_step(self, step: StepRecord) -> None:
        for callback in self.callbacks:
            callback.on_attack_step(step)


def as_callbacks(callbacks: Callback | Iterable[Callback] | None) -> CallbackList:
    """``callbacks`` (none, one, or several) as one :class:`CallbackList`."""
    if callbacks is None:
        return CallbackList()
    return CallbackList([callbacks] if isinstance(callbacks, Callback) else callbacks)


class Log(Callback):
    """Messages, and each phase's start, to ``write`` (``print``, the CLI's stderr, a list's ``append``);
    a warning is prefixed ``warning:``."""

    def __init__(self, write: Callable[[str], Any]) -> None:
        self.write = write

    def on_phase(self, phase: str, total: int, message: str = "") -> None:
        if message:
            self.write(message)

    def on_advance(self, n: int = 1, message: str | None = None) -> None:
        if message:
            self.write(message)

    def on_resume(self, phase: str, done: int, total: int, seconds: float, message: str) -> None:
        self.write(message)

    def on_message(self, message: str, warning: bool = False) -> None:
        self.write(f"warning: {message}" if warning else message)


class Record(Callback):
    """Keeps what it is told: ``steps`` (attack steps), ``messages``, ``warnings`` and ``events``
    (``(hook, arguments)`` in order)."""

    def __init__(self) -> None:
        self.steps: list[StepRecord] = []
        self.messages: list[str] = []
        self.warnings: list[str] = []
        self.events: list[tuple[str, tuple]] = []

    def on_phase(self, phase: str, total: int, message: str = "") -> None:
        self.events.append(("phase", (phase, total, message)))

    def on_advance(self, n: int = 1, message: str | None = None) -> None:
        self.events.append(("advance", (n, message)))

    def on_phase_end(self) -> None:
        self.events.append(("phase_end", ()))

    def on_resume(self, phase: str, done: int, total: int, seconds: float, message: str) -> None:
        self.events.append(("resume", (phase, done, total, seconds, message)))

    def on_message(self, message: str, warning: bool = False) -> None:
        (self.warnings if warning else self.messages).append(message)
        self.events.append(("message", (message, warning)))

    def on_attack_step(self, step: StepRecord) -> None:
        self.steps.append(step)


class Tally(Callback):
    """Each phase's count and time so far: ``phases[name] = {"done", "total", "seconds"}``, and the current ``phase``."""

    def __init__(self) -> None:
        self.phase: str | None = None
        self.phases: dict[str, dict[str, Any]] = {}
        self._started: dict[str, float] = {}

    def on_phase(self, phase: str, total: int, message: str = "") -> None:
        self.phase = phase
        self.phases[phase] = {"done": 0, "total": int(total), "seconds": 0.0}
        self._started[phase] = time.time()

    def on_advance(self, n: int = 1, message: str | None = None) -> None:
        if self.phase is not None:
            entry = self.phases[self.phase]
            entry["done"] = min(entry["total"], entry["done"] + n)
            self._clock()

    def on_phase_end(self) -> None:
        if self.phase is not None:
            self.phases[self.phase]["done"] = self.phases[self.phase]["total"]
            self._clock()

    def on_resume(self, phase: str, done: int, total: int, seconds: float, message: str) -> None:
        self.phase = phase
        self.phases[phase] = {"done": int(done), "total": int(total), "seconds": float(seconds)}
        self._started[phase] = time.time() - seconds

    def _clock(self) -> None:
        assert self.phase is not None
        self.phases[self.phase]["seconds"] = round(time.time() - self._started[self.phase], 1)
