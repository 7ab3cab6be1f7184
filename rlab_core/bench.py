"""Many samples x many attacks -> one results table, in this process or on a Ray cluster.

**Protocol.** Untargeted attacks on the same inputs: the first ``n`` items of the victim's
seeded test split that it classifies correctly (all of them for unlabelled items), each attacked
by every attack at the same query budget (the clean prediction included), every query counted by
the attack's own :class:`~rlab_core.victims.blackbox.BlackBox`. A failure counts as the whole
budget in every query figure; distortion figures (L0 patches, L2, Linf, SSIM / SNR) are means
over successes. The curve of an attack is the fraction of inputs fooled within ``q`` queries, for
``q`` on a geometric grid from 1 to the budget.

The attacks: ``rl`` (the victim's shipped agent), ``greedy`` and ``random`` (same patch grid,
filters ``--filter``, default the mixture, and the 20% patch cap), ``square`` (ART, L2 ball),
``square_linf`` (ART, Linf ball of 0.05) and ``simba`` (ART, pixel basis, stopped past an L2
limit); see :mod:`rlab_core.attacks`.

**Matched distortion.** ``square``'s ``eps`` and ``simba``'s L2 limit are the L2 that ``rl``
reached on the same input (its pruned adversarial input, as recorded, to 6 decimals). Where
``rl`` failed they are ``rl``'s median L2 over the run's successes (over all its attacks if it
succeeded nowhere): so ``rl`` runs first on every input, and those inputs' ``square`` and
``simba`` run once every ``rl`` result is in (each record says ``matched_to``: ``rl`` or
``rl_median``). ``square`` and ``simba`` need ``rl`` among the attacks.

**Seeds.** Input ``index`` (its position in the test split) is attacked with seed
``sample_seed(seed, index)`` by every attack (it fixes the filters' randomness and ART's global
generators): a sample's figures do not depend on the order, the other samples, or the process or
node that ran it. (Only the ``rl_median`` inputs depend on the run, through the median.)

**Files.** ``--out FILE.json`` writes ``FILE.json`` (``run``, ``rows``, ``samples``, ``curves``),
``FILE.md`` (the table), ``FILE.png`` (success rate against queries) and ``FILE.jsonl``: one line
per finished sample and attack, written as they finish, after a first line with the settings.
``resume=True`` reads it back and runs only what is missing (a last record that a killed run cut
short is dropped and redone; a ``rl_median`` record is redone if the median has changed, e.g.
after ``--n`` grew); without it the file is started afresh. The other files are written whole or
not at all (:mod:`rlab_core.files`).

**Ray.** With ``use_ray`` (a local ``ray.init()``) or ``ray_address`` (an existing cluster) each
sample is one Ray task (:func:`run_sample`, one CPU, one torch thread); otherwise the same
function runs here, one sample after the other. Ray is imported only then. On a cluster:

1. on every node: this repository at the same path (the tasks import ``rlab_core`` from it) and
   its ``requirements.txt`` installed (``ray>=2.40`` included), the victims' weights and data in
   ``assets/`` as in the repository;
2. on the head node: ``ray start --head --port=6379 --num-cpus=N``;
3. on every other node: ``ray start --address=HEAD:6379 --num-cpus=N``;
4. on the head node (or any node that can reach it), from the repository:
   ``OMP_NUM_THREADS=1 python -m rlab_core bench --modality image --attacks rl,greedy,random,square,square_linf,simba
   --n 200 --budget 1000 --ray-address HEAD:6379 --out benchmarks/bench-image-cnn.json``.

Results come back to the process that started the run, which writes every file.
See ``docs/bench-ray.md``.

**In the app.** ``progress`` (``--progress FILE`` on the command line) counts the finished
attacks, one per input and attack, in a :class:`~rlab_core.background.Progress` file;
the Benchmark page runs the command in the background (``rlab_app.jobs.start_bench``), writing
``runs/bench/<victim>/live.json`` and its companions. :func:`published_reports` lists the
published ``benchmarks/bench-<victim>.json``.
"""
from __future__ import annotations

import json
import os
import platform
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import torch

from rlab_core import ROOT, background, relative_to_root
from rlab_core.attacks.base import DEFAULT_BUDGET
from rlab_core.attacks.registry import ATTACKS as REGISTRY
from rlab_core.attacks.registry import make_attack, parameters
from rlab_core.attacks.result import AttackResult
from rlab_core.files import atomic_path, atomic_write_text
from rlab_core.run_record import run_record
from rlab_core.victims import Victim, VictimError, file_sha256, get_profile

# Every attack of the registry but ``adaptive``, which attacks hardened weights (see robustness).
ATTACKS = ("rl", "greedy", "random", "square", "square_linf", "simba")
ART_ATTACKS = tuple(name for name in ATTACKS if not REGISTRY[name].uses_patches)
MATCHED = tuple(name for name in ATTACKS if REGISTRY[name].matched_parameter)  # their distortion is matched to rl's L2
CURVE_POINTS = 48
RUNS = ROOT / "runs" / "bench"  # the app's live runs: runs/bench/<victim>/live.json
REPORTS = ROOT / "benchmarks"  # the published runs: benchmarks/bench-<victim>.json
LIVE = "live.json"
MODEL_FILE = "model.onnx"  # an uploaded model the app's live run attacks, kept beside its results
_FLOAT_DIGITS = 6


class BenchError(ValueError):
    """Settings a benchmark cannot run with (reported by the CLI as a usage error)."""


@dataclass(frozen=True)
class BenchConfig:
    """What a benchmark run measures. ``filter`` is the patch attacks' filter setting."""

    victim: str
    attacks: tuple[str, ...] = ATTACKS
    n: int = 100
    budget: int = DEFAULT_BUDGET
    seed: int = 0
    filter: str = "mix"
    model: str | None = None  # an .onnx file queried in place of the victim's network (its grid, agent, names)

    def check(self) -> None:
        get_profile(self.victim)
        if self.model is not None:
            _victim(self.victim, self.model)  # a clear error before any work
        unknown = [a for a in self.attacks if a not in ATTACKS]
        if unknown or not self.attacks:
            raise BenchError(f"unknown attack(s) {', '.join(unknown) or '(none given)'}; choose from: {', '.join(ATTACKS)}")
        if len(set(self.attacks)) != len(self.attacks):
            raise BenchError(f"an attack is named twice in {','.join(self.attacks)}")
        needs_rl = [a for a in self.attacks if a in MATCHED]
        if needs_rl and "rl" not in self.attacks:
            raise BenchError(f"{' and '.join(needs_rl)} need rl among the attacks: their distortion is matched to rl's L2")
        if self.n < 1:
            raise BenchError(f"--n must be at least 1, got {self.n}")
        if self.budget < 2:
            raise BenchError(f"--budget must be at least 2 (the clean prediction and one step), got {self.budget}")

    def settings(self) -> dict:
        """What a resumed run must share with the run it continues (``n`` and ``attacks`` may grow)."""
        model = {} if self.model is None else {"model_sha256": file_sha256(Path(self.model))}
        return {"victim": self.victim, "budget": self.budget, "seed": self.seed, "filter": self.filter, **model}


def sample_seed(seed: int, index: int) -> int:
    """The seed of test item ``index`` in a run with ``seed``: the same wherever and whenever it runs."""
    return int(np.random.SeedSequence([int(seed), int(index)]).generate_state(1)[0])


@lru_cache(maxsize=4)
def _test_split(victim: str):
    return get_profile(victim).dataset("test")


@lru_cache(maxsize=2)
def _victim(victim: str, model: str | None) -> Victim:
    """The victim attacked: built-in ``victim``, or the ONNX model at path ``model`` shaped like it."""
    try:
        return Victim.builtin(victim) if model is None else Victim.from_onnx(Path(model), like=victim)
    except VictimError as err:
        raise BenchError(str(err)) from None


@lru_cache(maxsize=2)
def _agent(victim: str):
    from rlab_core.agents.agent import load_agent

    return load_agent(victim)


def select_inputs(victim: str, n: int, model: str | None = None) -> list[int]:
    """Indices of the first ``n`` test items the network (the victim's, or the ONNX ``model``)
    classifies correctly (unlabelled items count)."""
    data, chosen, attacked = _test_split(victim), [], _victim(victim, model)
    for i in range(len(data)):
        sample = data[i]
        if sample.y is None or attacked.predict(sample.x) == sample.y:
            chosen.append(i)
            if len(chosen) == n:
                break
    return chosen


def record(index: int, seed: int, result: AttackResult, **extra) -> dict:
    """One sample's figures under one attack, as the JSON and the ``.jsonl`` hold them."""
    summary = result.summary()
    out = {"index": int(index), "attack": result.attack, "seed": int(seed)}
    for key in ("success", "already_misclassified", "queries", "queries_total", "l0_patches", "l0_elements", "l2",
                "linf", "ssim", "snr_db", "label", "adversarial_label", "remove_rate", "seconds"):
        if key in summary:
            value = summary[key]
            out[key] = round(float(value), _FLOAT_DIGITS) if isinstance(value, float) else value
    out.update({k: round(v, _FLOAT_DIGITS) if isinstance(v, float) else v for k, v in result.details.items()})
    out.update(extra)
    return out


def matched_l2(rl_record: dict | None, fallback: float | None) -> tuple[float | None, str | None]:
    """The L2 that ``square`` and ``simba`` are held to on one input, and where it comes from."""
    if rl_record is not None and rl_record["success"]:
        return float(rl_record["l2"]), "rl"
    if rl_record is not None and fallback is not None:
        return float(fallback), "rl_median"
    return None, None  # rl failed here: wait for the run's median


def run_one(config: BenchConfig, name: str, x: torch.Tensor, y: int | None, seed: int,
            l2_match: float | None = None) -> AttackResult:
    """One attack of the registry on one input; ``l2_match`` is the matched attacks' distortion
    (``square``'s eps, ``simba``'s limit). The patch attacks get the run's filter, ``rl`` the agent."""
    from rlab_core.attacks.art_bridge import seed_everything

    seed_everything(seed)
    declared = parameters(name)
    params: dict = {}
    if "filter" in declared:
        params["filter"] = config.filter
    if "agent" in declared:
        params["agent"] = _agent(config.victim)
    matched = REGISTRY[name].matched_parameter
    if matched:
        params[matched] = l2_match
    victim = _victim(config.victim, config.model)
    return make_attack(name, **params).run(victim, x, y, budget=config.budget, seed=seed)


def run_sample(config: BenchConfig, index: int, attacks: Sequence[str], rl_record: dict | None = None,
               fallback_l2: float | None = None) -> list[dict]:
    """Attack test item ``index`` with ``attacks`` (``rl`` first); the Ray task and the local step.

    ``rl_record`` is this input's ``rl`` record when ``rl`` ran before (a resumed run);
    ``fallback_l2`` the run's median ``rl`` L2, once known. A matched attack whose L2 is not known
    yet (``rl`` failed here, no median yet) is left out, to be run later.
    """
    torch.set_num_threads(1)
    if any(a in ART_ATTACKS for a in attacks):
        import art.attacks.evasion  # noqa: F401  (imported once here, not inside a sample's timing)
    sample = _test_split(config.victim)[index]
    seed = sample_seed(config.seed, index)
    records = []
    for name in sorted(attacks, key=lambda a: a != "rl"):
        extra = {}
        l2_match = None
        if name in MATCHED:
            l2_match, source = matched_l2(rl_record, fallback_l2)
            if l2_match is None:
                continue
            extra["matched_to"] = source
        result = run_one(config, name, sample.x, sample.y, seed, l2_match)
        records.append(record(index, seed, result, **extra))
        if name == "rl":
            rl_record = records[-1]
    return records


# ---------------------------------------------------------------------------------- executors
class LocalPool:
    """Runs the samples here, one after the other."""

    description = "in-process"

    def map(self, jobs: Iterable[tuple]) -> Iterator[list[dict]]:
        for job in jobs:
            yield run_sample(*job)

    def close(self) -> None:
        pass


class RayPool:
    """Runs each sample as a Ray task: on a local Ray (``address=None``) or an existing cluster."""

    def __init__(self, address: str | None = None) -> None:
        import ray

        self.ray = ray
        self.owned = not ray.is_initialized()
        if self.owned:
            env = {"env_vars": {"PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}}
            options: dict[str, Any] = {"include_dashboard": False} if address is None else {}
            try:
                # ray.init annotates logging_level as int, but takes a level name too (its own default is "info").
                ray.init(address=address, runtime_env=env, log_to_driver=False, logging_level="ERROR",  # type: ignore[arg-type]
                         **options)
            except (ConnectionError, RuntimeError) as err:
                raise BenchError(f"cannot reach the Ray cluster at {address}: {str(err).splitlines()[0]}") from None
        self.task = ray.remote(num_cpus=1, max_retries=1)(run_sample)
        cpus = int(ray.cluster_resources().get("CPU", 0))
        self.description = f"Ray ({'local' if address is None else address}, {cpus} CPUs, one task per sample)"

    def map(self, jobs: Iterable[tuple]) -> Iterator[list[dict]]:
        pending = [self.task.remote(*job) for job in jobs]
        while pending:
            ready, pending = self.ray.wait(pending, num_returns=1)
            yield self.ray.get(ready[0])

    def close(self) -> None:
        if self.owned:
            self.ray.shutdown()


# ---------------------------------------------------------------------------------- the run
def _drop_partial_line(path: Path) -> bool:
    """Cut a last line that has no line break (a killed run's last record, half written) off the
    file, so that the next record starts a line of its own; whether there was one."""
    data = path.read_bytes()
    whole = data.rfind(b"\n") + 1
    if whole == len(data):
        return False
    os.truncate(path, whole)
    return True


def _load_progress(path: Path, config: BenchConfig) -> dict[tuple[int, str], dict] | None:
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


def median_rl_l2(records: Iterable[dict]) -> float | None:
    """``rl``'s median L2 over its successes (over all its attacks if none succeeded)."""
    rl = [r for r in records if r["attack"] == "rl"]
    wins = [r["l2"] for r in rl if r["success"]]
    values = wins or [r["l2"] for r in rl if r["l2"] > 0]
    return round(float(np.median(values)), _FLOAT_DIGITS) if values else None


def run_bench(config: BenchConfig, out: Path, *, resume: bool = False, use_ray: bool = False,
              ray_address: str | None = None, log: Callable[[str], None] = lambda line: None,
              progress: background.Progress | None = None) -> dict:
    """Run the benchmark and write ``out`` (.json), its ``.jsonl``, ``.md`` and ``.png``; return the report.
    ``progress`` counts the finished attacks (phase ``"attacks"``: one per input and attack)."""
    config.check()
    started = time.perf_counter()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    records_file = out.with_suffix(".jsonl")
    earlier = None
    if resume and records_file.exists():
        if _drop_partial_line(records_file):
            log(f"dropped the last line of {records_file}: a record cut short when the run was stopped")
        earlier = _load_progress(records_file, config)
    if earlier is None:
        if resume:
            log(f"nothing to resume at {records_file}; starting afresh")
        atomic_write_text(records_file, json.dumps({"bench": config.settings()}) + "\n")
    else:
        log(f"resuming from {records_file}: {len(earlier)} sample records done")
    done: dict[tuple[int, str], dict] = earlier or {}
    if progress is not None:
        progress.note("Loading the victim and choosing the inputs…")
    if "rl" in config.attacks:
        _agent(config.victim)  # an agent that cannot load fails here, before any work
    indices = select_inputs(config.victim, config.n, config.model)
    if len(indices) < config.n:
        log(f"only {len(indices)} test items of {config.victim} are classified correctly; running those")
    pool = RayPool(ray_address) if use_ray or ray_address else LocalPool()
    log(f"{config.victim}: {len(indices)} inputs x {', '.join(config.attacks)}, budget {config.budget}, "
        f"{pool.description}")
    if progress is not None:
        progress.start("attacks", len(indices) * len(config.attacks),
                       f"{len(indices)} inputs x {len(config.attacks)} attacks, {pool.description}")
        progress.advance(sum((i, a) in done for i in indices for a in config.attacks))
    try:
        def run(jobs: list[tuple]) -> None:
            for finished, records in enumerate(pool.map(jobs), 1):
                redone = sum((r["index"], r["attack"]) in done for r in records)  # rl_median records run again
                with records_file.open("a") as f:
                    for r in records:
                        f.write(json.dumps(r) + "\n")
                        done[(r["index"], r["attack"])] = r
                if records:
                    figures = ", ".join(f"{r['attack']} {'ok' if r['success'] else 'fail'} {r['queries']}q"
                                        for r in records)
                    line = f"[{finished}/{len(jobs)}] input {records[0]['index']}: {figures}"
                    log(line)
                    if progress is not None:
                        progress.advance(len(records) - redone, line)

        # Phase 1: rl and everything that does not wait for rl's median.
        jobs: list[tuple] = []
        for index in indices:
            rl_record = done.get((index, "rl"))
            todo = [a for a in config.attacks if (index, a) not in done
                    and not (a in MATCHED and rl_record is not None and not rl_record["success"])]
            if todo:
                jobs.append((config, index, todo, rl_record, None))
        run(jobs)
        # Phase 2: square and simba where rl failed, at rl's median L2 over the run.
        fallback = median_rl_l2(done[(i, "rl")] for i in indices if (i, "rl") in done)
        jobs = []
        for index in indices:
            rl_record = done.get((index, "rl"))
            if rl_record is None or rl_record["success"] or fallback is None:
                continue
            todo = [a for a in config.attacks if a in MATCHED and not (
                (index, a) in done and done[(index, a)].get("matched_to") == "rl_median"
                and _matched_value(done[(index, a)]) == fallback)]
            if todo:
                jobs.append((config, index, todo, rl_record, fallback))
        run(jobs)
    finally:
        pool.close()
    samples = [done[(i, a)] for i in indices for a in config.attacks if (i, a) in done]
    report = make_report(config, out, samples, pool.description, time.perf_counter() - started, fallback)
    background.write_json(out, report)
    atomic_write_text(out.with_suffix(".md"), markdown(report, out.with_suffix(".png").name))
    plot(report, out.with_suffix(".png"))
    return report


def _matched_value(entry: dict) -> float | None:
    return entry.get("eps", entry.get("l2_limit"))


# ---------------------------------------------------------------------------------- the report
def summarise(records: list[dict], budget: int) -> dict:
    """One row of the table: an attack's figures over its samples (failures at the budget)."""
    wins = [r for r in records if r["success"]]
    queries = [r["queries"] if r["success"] else budget for r in records]

    def mean(key: str, rows: list[dict]) -> float | None:
        values = [r[key] for r in rows if r.get(key) is not None]
        return round(float(np.mean(values)), 4) if values else None

    quality = "snr_db" if any("snr_db" in r for r in records) else "ssim"
    return {
        "samples": len(records),
        "success_rate": round(float(np.mean([r["success"] for r in records])), 4) if records else None,
        "mean_queries": round(float(np.mean(queries)), 2) if records else None,
        "median_queries": float(np.median(queries)) if records else None,
        "median_queries_successes": float(np.median([r["queries"] for r in wins])) if wins else None,
        "mean_l0_patches": mean("l0_patches", wins),
        "mean_l2": mean("l2", wins),
        "mean_linf": mean("linf", wins),
        f"mean_{quality}": mean(quality, wins),
        "seconds_per_sample": mean("seconds", records),
    }


def curve_grid(budget: int, points: int = CURVE_POINTS) -> list[int]:
    """Query counts from 1 to ``budget``, geometrically spaced (integers, no repeats)."""
    return sorted({int(q) for q in np.geomspace(1, budget, points).round()} | {budget})


def curves(samples: list[dict], attacks: Sequence[str], budget: int) -> dict:
    """Per attack, the fraction of its samples fooled within ``q`` queries for ``q`` on the grid."""
    grid = curve_grid(budget)
    out = {}
    for name in attacks:
        rows = [r for r in samples if r["attack"] == name]
        fooled = np.array([r["queries"] for r in rows if r["success"]])
        rates = [round(float((fooled <= q).sum() / len(rows)), 4) if rows else None for q in grid]
        out[name] = {"queries": grid, "success_rate": rates}
    return out


def command(config: BenchConfig, out: Path | str) -> str:
    spec = get_profile(config.victim)
    return (f"python -m rlab_core bench --modality {spec.modality} --victim {config.victim} "
            f"--attacks {','.join(config.attacks)} --n {config.n} --budget {config.budget} --seed {config.seed}"
            + ("" if config.filter == "mix" else f" --filter {config.filter}")
            + ("" if config.model is None else f" --model {config.model}") + f" --out {out}")


def make_report(config: BenchConfig, out: Path, samples: list[dict], machine: str, seconds: float,
                fallback: float | None) -> dict:
    rows = [{"attack": a, **summarise([r for r in samples if r["attack"] == a], config.budget)} for a in config.attacks]
    shown = relative_to_root(out)
    return {
        "run": run_record(config.seed, config.victim, config.model and file_sha256(Path(config.model))),
        "victim": config.victim, "modality": get_profile(config.victim).modality, **asdict(config),
        "inputs": len({r["index"] for r in samples}),
        "rl_median_l2": fallback,
        "command": command(config, shown),
        "machine": f"{platform.machine()}, {machine}, 1 torch thread per task",
        "seconds": round(seconds, 1),
        "rows": rows,
        "samples": samples,
        "curves": curves(samples, config.attacks, config.budget),
    }


def rows_table(report: dict) -> str:
    """The rows as a Markdown table (also what the CLI prints)."""
    quality = "mean_snr_db" if any("mean_snr_db" in r for r in report["rows"]) else "mean_ssim"

    def cell(value) -> str:
        return "-" if value is None else f"{value:g}" if isinstance(value, float) else str(value)

    keys = ("attack", "success_rate", "mean_queries", "median_queries", "median_queries_successes", "mean_l0_patches",
            "mean_l2", "mean_linf", quality, "seconds_per_sample")
    heads = ("attack", "success", "mean queries", "median queries", "median (successes)", "mean L0 patches", "mean L2",
             "mean Linf", quality.removeprefix("mean_"), "s / sample")
    lines = ["| " + " | ".join(heads) + " |", "|" + "---|" * len(heads)]
    lines += ["| " + " | ".join(cell(row.get(k)) for k in keys) + " |" for row in report["rows"]]
    return "\n".join(lines)


def markdown(report: dict, figure: str | None = None) -> str:
    matched = sum(1 for r in report["samples"] if r.get("matched_to") == "rl_median")
    lines = [
        f"# Benchmark: `{report['victim']}`", "",
        (f"{report['inputs']} correctly classified test inputs, untargeted, budget {report['budget']} queries (the clean "
         f"prediction included; a failure counts as the whole budget in every query figure), seed {report['seed']} "
         f"(each input its own seed from it). Patch attacks: filter `{report['filter']}`, patch cap 20% of the grid. "
         f"`square`: ART's Square Attack in an L2 ball of the L2 `rl` reached on the same input; `square_linf`: Linf "
         f"0.05; `simba`: ART's SimBA (pixels, epsilon 0.2) stopped past that L2. Where `rl` failed, they use its "
         f"median L2 over the run ({report['rl_median_l2']}; {matched} records). Distortions in `[0, 1]` input scale, "
         f"means over successes."), "",
        f"Made by `{report['command']}` on {report['machine']} in {report['seconds']} s.", "",
        rows_table(report), "",
    ]
    if figure:
        lines += [f"![success rate against queries]({figure})", ""]
    return "\n".join(lines)


def plot(report: dict, path: Path) -> None:
    """Success rate against queries, one line per attack (matplotlib, Agg)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.6, 4.2))
    budget = report["budget"]
    for name in report["attacks"]:  # exact steps from the samples (the JSON's curves are on a grid)
        rows = [r for r in report["samples"] if r["attack"] == name]
        if not rows:
            continue
        fooled = sorted(r["queries"] for r in rows if r["success"])
        ax.step([1, *fooled, budget], [0, *(np.arange(1, len(fooled) + 1) / len(rows)), len(fooled) / len(rows)],
                where="post", label=name)
    ax.set_xscale("log")
    ax.set_xlim(1, budget)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("queries (the clean prediction included)")
    ax.set_ylabel("success rate")
    ax.set_title(f"{report['victim']}: {report['inputs']} inputs, budget {report['budget']}")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(loc="center left", bbox_to_anchor=(1.02, 0.5))
    fig.tight_layout()
    with atomic_path(path) as partial:
        fig.savefig(partial, dpi=120)
    plt.close(fig)


# ---------------------------------------------------------------------------------- the app's runs
def published_reports(folder: Path | None = None) -> dict[str, Path]:
    """The published runs, ``{victim: benchmarks/bench-<victim>.json}``, sorted by victim."""
    paths = sorted(Path(folder or REPORTS).glob("bench-*.json"))
    return {path.stem.removeprefix("bench-"): path for path in paths}


def run_folder(victim: str, runs: Path | None = None) -> Path:
    """Where the app's live run of ``victim`` goes: ``runs/bench/<victim>/``."""
    return Path(runs or RUNS) / victim
