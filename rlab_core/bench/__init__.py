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

**Files.** ``--out FILE.json`` (``out``) writes ``FILE.json`` (``run``, ``rows``, ``samples``, ``curves``),
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

**Callbacks.** :func:`run_bench` reports only through ``callbacks``
(:mod:`rlab_core.callbacks`): the log's lines (``on_message``), and one phase ``"attacks"``
counting the finished attacks, one per input and attack (``on_advance`` with the input's line).
The CLI passes its stderr log and, with ``--progress FILE``, a
:class:`~rlab_core.background.Progress` file; the Benchmark page runs the command in the
background (``rlab_app.jobs.start_bench``, from :meth:`BenchConfig.argv`), writing
``runs/bench/<victim>/live.json`` and its companions. :func:`published_reports` lists the
published ``benchmarks/bench-<victim>.json``.

**Layout.** :mod:`~rlab_core.bench.config` (the settings, one declaration for the dataclass and
the command line), :mod:`~rlab_core.bench.samples` (one input under every attack),
:mod:`~rlab_core.bench.pools` (here or on Ray), :mod:`~rlab_core.bench.run` (the run and its
``.jsonl``), :mod:`~rlab_core.bench.report` (:class:`BenchReport`: the figures, and its JSON) and
:mod:`~rlab_core.bench.markdown` (the report drawn: Markdown and PNG).
"""
from __future__ import annotations

from rlab_core.bench.config import ART_ATTACKS, ATTACKS, MATCHED, BenchConfig, BenchError
from rlab_core.bench.markdown import markdown, plot, rows_table
from rlab_core.bench.report import LIVE, MODEL_FILE, BenchReport, published_reports, run_folder
from rlab_core.bench.run import run_bench
from rlab_core.bench.samples import median_rl_l2, run_sample, sample_seed

__all__ = ["ART_ATTACKS", "ATTACKS", "LIVE", "MATCHED", "MODEL_FILE", "BenchConfig", "BenchError", "BenchReport",
           "markdown", "median_rl_l2", "plot", "published_reports", "rows_table", "run_bench", "run_folder", "run_sample",
           "sample_seed"]
