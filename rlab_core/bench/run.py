"""A whole run (:func:`run_bench`): its records appended to ``FILE.jsonl`` as they finish, resumed
from there, then the report written as ``FILE.json``, ``FILE.md`` and ``FILE.png``.

Whoever follows the run hears of it only through its callbacks (:mod:`rlab_core.callbacks`):
messages for the log, and one phase ``"attacks"`` counting one step per input and attack.
"""
from __future__ import annotations

import json
import os
import time
from collections.abc import Sequence
from pathlib import Path

from rlab_core import background
from rlab_core.bench.config import MATCHED, BenchConfig, BenchError
from rlab_core.bench.markdown import markdown, plot
from rlab_core.bench.pools import Pool, make_pool
from rlab_core.bench.report import BenchReport, make_report
from rlab_core.bench.samples import median_rl_l2, select_inputs, shipped_agent
from rlab_core.callbacks import Callback, CallbackList, as_callbacks
from rlab_core.files import atomic_write_text

Done = dict[tuple[int, str], dict]  # the records so far, by input index and attack


def run_bench(config: BenchConfig, out: Path, *, resume: bool = False, use_ray: bool = False,
              ray_address: str | None = None, callbacks: Callback | Sequence[Callback] = ()) -> BenchReport:
    """Run the benchmark and write ``out`` (.json), its ``.jsonl``, ``.md`` and ``.png``; return the report.

    ``resume`` goes on from the records in ``out``'s ``.jsonl``; ``use_ray`` runs the samples on a
    local Ray, ``ray_address`` on that cluster. ``callbacks`` hear the log's lines (``on_message``)
    and the phase ``"attacks"``: one step per input and attack, those done before a resume at once.
    """
    callbacks = as_callbacks(callbacks)
    config.check()
    started = time.perf_counter()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    records_file = out.with_suffix(".jsonl")
    done = _records_so_far(records_file, config, resume, callbacks)
    if "rl" in config.attacks:
        shipped_agent(config.victim)  # an agent that cannot load fails here, before any work (and any log line)
    callbacks.on_message("Loading the victim and choosing the inputs…")
    indices = select_inputs(config.victim, config.n, config.model)
    if len(indices) < config.n:
        callbacks.on_message(f"only {len(indices)} test items of {config.victim} are classified correctly; running those")
    pool = make_pool(use_ray, ray_address)
    callbacks.on_phase("attacks", len(indices) * len(config.attacks),
                       f"{config.victim}: {len(indices)} inputs x {', '.join(config.attacks)}, budget {config.budget}, "
                       f"{pool.description}")
    already = sum((i, a) in done for i in indices for a in config.attacks)
    if already:
        callbacks.on_advance(already)
    try:
        _run_jobs(pool, _first_jobs(config, indices, done), records_file, done, callbacks)
        fallback = median_rl_l2(done[(i, "rl")] for i in indices if (i, "rl") in done)
        _run_jobs(pool, _median_jobs(config, indices, done, fallback), records_file, done, callbacks)
    finally:
        pool.close()
    callbacks.on_phase_end()
    samples = [done[(i, a)] for i in indices for a in config.attacks if (i, a) in done]
    report = make_report(config, out, samples, pool.description, time.perf_counter() - started, fallback)
    background.write_json(out, report.to_json())
    atomic_write_text(out.with_suffix(".md"), markdown(report, out.with_suffix(".png").name))
    plot(report, out.with_suffix(".png"))
    return report


# ---------------------------------------------------------------------------------- the jobs
def _first_jobs(config: BenchConfig, indices: list[int], done: Done) -> list[tuple]:
    """Phase 1: ``rl`` and everything that does not wait for ``rl``'s median, where not done yet."""
    jobs: list[tuple] = []
    for index in indices:
        rl_record = done.get((index, "rl"))
        todo = [a for a in config.attacks if (index, a) not in done
                and not (a in MATCHED and rl_record is not None and not rl_record["success"])]
        if todo:
            jobs.append((config, index, todo, rl_record, None))
    return jobs


def _median_jobs(config: BenchConfig, indices: list[int], done: Done, fallback: float | None) -> list[tuple]:
    """Phase 2: the matched attacks where ``rl`` failed, at ``rl``'s median L2 over the run
    (``fallback``); a record made at another median (the run grew) is made again."""
    if fallback is None:
        return []
    jobs: list[tuple] = []
    for index in indices:
        rl_record = done.get((index, "rl"))
        if rl_record is None or rl_record["success"]:
            continue
        todo = [a for a in config.attacks if a in MATCHED and not _at_median(done.get((index, a)), fallback)]
        if todo:
            jobs.append((config, index, todo, rl_record, fallback))
    return jobs


def _at_median(entry: dict | None, median: float) -> bool:
    """Whether a matched attack's record was made at ``median`` (its ``eps`` or ``l2_limit``)."""
    return (entry is not None and entry.get("matched_to") == "rl_median"
            and entry.get("eps", entry.get("l2_limit")) == median)


def _run_jobs(pool: Pool, jobs: list[tuple], records_file: Path, done: Done, callbacks: CallbackList) -> None:
    """Run ``jobs`` on ``pool``, appending each input's records to ``records_file`` (and ``done``) as it finishes."""
    for finished, records in enumerate(pool.map(jobs), 1):
        redone = sum((r["index"], r["attack"]) in done for r in records)  # rl_median records run again
        with records_file.open("a") as f:
            for r in records:
                f.write(json.dumps(r) + "\n")
                done[(r["index"], r["attack"])] = r
        if records:
            figures = ", ".join(f"{r['attack']} {'ok' if r['success'] else 'fail'} {r['queries']}q" for r in records)
            callbacks.on_advance(len(records) - redone, f"[{finished}/{len(jobs)}] input {records[0]['index']}: {figures}")


# ---------------------------------------------------------------------------------- the .jsonl
def _records_so_far(records_file: Path, config: BenchConfig, resume: bool, callbacks: CallbackList) -> Done:
    """The records an earlier run of ``config`` left in ``records_file`` when resuming; otherwise
    none, and the file started afresh with its settings line."""
    earlier = None
    if resume and records_file.exists():
        if _drop_partial_line(records_file):
            callbacks.on_message(f"dropped the last line of {records_file}: a record cut short when the run was stopped")
        earlier = _load_records(records_file, config)
    if earlier is None:
        if resume:
            callbacks.on_message(f"nothing to resume at {records_file}; starting afresh")
        atomic_write_text(records_file, json.dumps({"bench": config.settings()}) + "\n")
        return {}
    callbacks.on_message(f"resuming from {records_file}: {len(earlier)} sample records done")
    return earlier


def _drop_partial_line(path: Path) -> bool:
    """Cut a last line that has no line break (a killed run's last record, half written) off the
    file, so that the next record starts a line of its own; whether there was one."""
    data = path.read_bytes()
    whole = data.rfind(b"\n") + 1
    if whole == len(data):
        return False
    os.truncate(path, whole)
    return True


def _load_records(path: Path, config: BenchConfig) -> Done | None:
    """The records of an earlier run of the same settings (the last one per sample and attack);
    ``None`` if the file holds no run, not even its settings line."""
    lines = path.read_text().splitlines()
    if not lines:
        return None
    try:
        header = json.loads(lines[0]).get("bench")
    except json.JSONDecodeError:
        header = None
    if header != config.settings():
        raise BenchError(f"{path} holds a run with other settings ({header}); resume with the same --victim, --budget, "
                         f"--seed and --filter, or start afresh without --resume")
    done = {}
    for number, line in enumerate(lines[1:], 2):
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:  # only the last line can be cut short, and that one is dropped first
            raise BenchError(f"{path}, line {number}, is not a record: the file is damaged; start afresh without "
                             f"--resume") from None
        done[(entry["index"], entry["attack"])] = entry
    return done
