"""Train, save and load the RL agent of a victim.

Training reads top to bottom (CleanRL style), its settings in :class:`AgentTrainConfig`:

1. Inputs: correctly classified items of the victim's *training* split (never val or test,
   never a ground-truth mask).
2. Teacher: queries spent in training are free, so for each input we measure how much each
   single legal addition (filter ``f`` on patch ``p``) lowers the true class's margin, follow the
   best one (a greedy teacher) for a few steps, and measure again. This is the victim's
   sensitivity, as the published greedy search measures it at every step of every attack.
3. Imitation: the policy learns to predict the teacher's soft choice from the observation alone,
   a learned prior over where to distort that costs no query at attack time. Then DAgger: the
   policy walks on its own, the teacher labels the states it reaches, and it learns again on all
   states, so that it knows what to do after its own mistakes.
4. PPO fine-tuning (MaskablePPO) from that prior, where the reward teaches what the teacher
   cannot (when to remove, which filter, when a patch stopped helping).
5. Selection: both the imitation policy and the fine-tuned one attack the validation split;
   the better one is shipped, with both figures recorded.

The agent is saved as a Stable-Baselines3 ``.zip`` in ``assets/agents/`` with an ``rlab.json``
entry inside that records the settings, the victim weights' hash and the measured figures.
"""
from __future__ import annotations

import json
import time
import zipfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, cast

import numpy as np
import torch
import torch.nn.functional as F

from rlab_core import ASSETS, ROOT
from rlab_core.agents.env import PatchAttackEnv, observe
from rlab_core.agents.policy import PatchPolicy
from rlab_core.attacks.patch import attack_filters
from rlab_core.attacks.rl import RLAttack
from rlab_core.attacks.session import AttackSession
from rlab_core.callbacks import Callback, CallbackList, as_callbacks
from rlab_core.files import atomic_path
from rlab_core.victims import PROFILES, Victim, file_sha256, get_profile
from rlab_core.victims.profiles import WEIGHTS

if TYPE_CHECKING:
    from stable_baselines3.common.callbacks import BaseCallback

AGENTS = ASSETS / "agents"
META_NAME = "rlab.json"


@dataclass(frozen=True)
class AgentTrainConfig:
    victim: str
    seed: int = 0
    filters: str = "mix"
    cells_per_patch: tuple[int, ...] = (4, 4)
    n_inputs: int = 1000            # training inputs the teacher labels
    teacher_steps: int = 4          # greedy steps followed per input
    single_filter_share: float = 0.5  # inputs whose teacher uses one random filter throughout
    dagger_rounds: int = 1          # rounds of labelling the policy's own walks (twice as long)
    imitation_epochs: int = 30
    ppo_steps: int = 50_000
    n_envs: int = 4
    episode_budget: int = 100       # queries per training episode
    ppo_lr: float = 1e-4
    n_val: int = 100                # validation inputs for selection
    val_budget: int = 200
    augment_flips: bool = False     # ImageNet: mirror images to double its few training photos


class AgentError(ValueError):
    """A shipped agent that is missing or cannot serve the request."""


@dataclass
class Agent:
    """A trained policy with the settings it was trained under (``meta``)."""

    policy: PatchPolicy
    meta: dict = field(default_factory=dict)

    @property
    def filter_names(self) -> list[str]:
        return list(self.meta["filters"])

    @property
    def cells_per_patch(self) -> tuple[int, ...]:
        return tuple(self.meta["cells_per_patch"])

    def cells_for(self, grid) -> tuple[int, ...]:
        """The agent's cells per patch on ``grid``, with 1 on grid axes of length 1 that the agent
        never saw (a whole-clip axis of a frame-level video victim)."""
        cells = iter(self.cells_per_patch)
        if len(self.cells_per_patch) == len(grid.grid_shape):
            return self.cells_per_patch
        return tuple(1 if n == 1 else next(cells) for n in grid.grid_shape)

    @torch.no_grad()
    def logits(self, session: AttackSession, last_was_remove: bool) -> np.ndarray:
        """Masked logits over the session's actions, ``(len(session.filters) + 1, n_patches)``.

        A session filter the agent knows uses its own row; one it never saw (bring your own
        filter) uses the log-sum-exp over the agent's add rows: where to distort, whatever with.
        """
        slots = [self.filter_names.index(f.name) if f.name in self.filter_names else -1 for f in session.filters]
        obs = observe(session, self.cells_for(session.grid), last_was_remove, slots, len(self.filter_names))
        batch = {k: torch.as_tensor(v)[None] for k, v in obs.items()}
        raw = self.policy.action_logits(batch)[0].reshape(len(self.filter_names) + 1, -1)
        rows = [raw[s] if s >= 0 else torch.logsumexp(raw[:-1], dim=0) for s in slots] + [raw[-1]]
        logits = torch.stack(rows).numpy().astype(np.float64)
        return np.where(session.action_mask(), logits, -np.inf)


# ------------------------------------------------------------------------------------ training

def training_inputs(victim: Victim, n: int, split: str, flips: bool,
                    rng: np.random.Generator) -> list[tuple[torch.Tensor, int]]:
    """Up to ``n`` items of ``split`` (of the built-in data ``victim`` is shaped like) that
    ``victim`` classifies correctly (the clean top-1 for unlabelled ones)."""
    data = victim.dataset(split)
    order = rng.permutation(len(data))
    pairs = []
    for i in order:
        sample = data[int(i)]
        variants = [sample.x, sample.x.flip(-1)] if flips else [sample.x]
        for x in variants:
            predicted = victim.predict(x)
            if sample.y is None or predicted == sample.y:
                pairs.append((x, predicted))
        if len(pairs) >= n:
            break
    return pairs[:n]


@torch.no_grad()
def teacher_label(env: PatchAttackEnv, filters: list[int]) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Measure every legal single addition of ``filters`` in the current state (training-time
    queries, straight to the model). Returns ``(scored actions, target distribution, best
    (filter, patch))`` or ``None`` when nothing can be added. The target is a sharp softmax of the
    margin drop; the policy is scored over the measured additions and the legal removals."""
    session, n_filters = env.session, len(env.filters)
    assert session is not None  # the caller has reset the environment
    legal = session.action_mask()
    scored = np.zeros_like(legal)
    scored[filters] = legal[filters]
    candidates = np.argwhere(scored[:n_filters])
    if len(candidates) == 0:
        return None
    probs = np.concatenate([env.victim.probabilities(batch) for batch in session.distortion.each_addition(candidates)])
    true = probs[:, session.label]
    probs[:, session.label] = -1
    # The margin as the session measures it: against the k-th best other class (k = the victim's top_k).
    drop = session.margin - (true - np.sort(probs, axis=1)[:, -env.victim.top_k])
    tau = 0.05 * (drop.max() - drop.min()) + 1e-6
    target = np.zeros_like(legal, dtype=np.float32)
    target[candidates[:, 0], candidates[:, 1]] = np.exp((drop - drop.max()) / tau)
    target /= target.sum()
    scored[-1] = legal[-1]
    return scored.reshape(-1), target.reshape(-1), candidates[int(drop.argmax())]


def labelled_walks(env: PatchAttackEnv, config: AgentTrainConfig, rng: np.random.Generator, callbacks: CallbackList,
                   agent: Agent | None = None, steps: int | None = None) -> list[tuple[dict, np.ndarray, np.ndarray]]:
    """(observation, scored actions, target) at every state of a walk per training input.

    Without ``agent`` the walk follows the teacher's best addition (behaviour cloning); with it,
    the agent's own choice (DAgger: the states the policy really reaches, labelled by the teacher,
    so that it learns to recover from its own mistakes)."""
    states, started, n_filters = [], time.time(), len(env.filters)
    for index in range(len(env.inputs)):
        env.reset(seed=int(rng.integers(2**31)), options={"index": index})
        session = env.session
        assert session is not None  # set by reset()
        # Half the walks compare all filters (which one hurts most), half keep to one filter
        # (where to put it, and that adding beats removing): attacks run with either.
        single = rng.random() < config.single_filter_share
        filters = [int(rng.integers(n_filters))] if single else list(range(n_filters))
        last_was_remove = False
        for _ in range(steps or config.teacher_steps):
            label = teacher_label(env, filters)
            if label is None:
                break
            states.append((env._observe(), *label[:2]))
            if agent is None:
                kind, patch = (int(v) for v in label[2])
            else:
                logits = agent.logits(session, last_was_remove)
                allowed = np.full_like(logits, -np.inf)
                allowed[filters], allowed[-1] = logits[filters], logits[-1]
                kind, patch = divmod(int(np.argmax(allowed)), env.grid.n_patches)
            last_was_remove = kind == n_filters
            session.remove(patch) if last_was_remove else session.add(patch, kind)
            if session.misclassified or session.out_of_budget:
                break
        if (index + 1) % max(1, len(env.inputs) // 5) == 0:
            walk = "teacher" if agent is None else "DAgger"
            callbacks.on_message(f"{walk}: {index + 1}/{len(env.inputs)} inputs, {len(states)} states "
                                 f"({time.time() - started:.0f}s)")
    return states


def imitate(policy: PatchPolicy, states: list, epochs: int, seed: int, callbacks: CallbackList) -> None:
    """Fit the policy's masked action distribution to the teacher's targets (cross-entropy).

    Only the actions the teacher measured carry a target; the remove row is always legal where a
    patch is distorted and gets target 0, so the prior never removes: PPO must learn to."""
    obs = {k: torch.as_tensor(np.stack([s[0][k] for s in states])) for k in states[0][0]}
    allowed = torch.as_tensor(np.stack([s[1] for s in states]))
    target = torch.as_tensor(np.stack([s[2] for s in states]))
    optimiser = torch.optim.Adam(policy.parameters(), lr=1e-3)
    generator = torch.Generator().manual_seed(seed)
    for epoch in range(epochs):
        order, total = torch.randperm(len(target), generator=generator), 0.0
        for start in range(0, len(order), 128):
            idx = order[start:start + 128]
            logits = policy.action_logits({k: v[idx] for k, v in obs.items()}).masked_fill(~allowed[idx], float("-inf"))
            loss = -(target[idx] * F.log_softmax(logits, dim=1).clamp_min(-1e4)).sum(dim=1).mean()
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            total += loss.item() * len(idx)
        if (epoch + 1) % 10 == 0 or epoch == 0:
            callbacks.on_message(f"imitation: epoch {epoch + 1}/{epochs} cross-entropy {total / len(target):.4f}")


def evaluate(agent: Agent, victim: Victim, inputs: list[tuple[torch.Tensor, int]], budget: int,
             filter: str = "mix") -> dict:
    """Success rate and median queries (failures at the budget) of ``agent`` against ``victim`` on ``inputs``."""
    attack = RLAttack(agent, filter)
    results = [attack.run(victim, x, y, budget=budget, seed=i) for i, (x, y) in enumerate(inputs)]
    queries = [r.queries if r.success else budget for r in results]
    removes = [r.remove_rate for r in results]
    return {"inputs": len(results), "success_rate": float(np.mean([r.success for r in results])),
            "median_queries": float(np.median(queries)), "mean_remove_rate": float(np.mean(removes)), "budget": budget}


def make_env(victim: Victim, inputs: list, config: AgentTrainConfig, budget: int | None) -> PatchAttackEnv:
    filters, strengths = attack_filters(victim, config.filters)
    return PatchAttackEnv(victim, inputs, filters, config.cells_per_patch, strengths=strengths, budget=budget)


def train_agent(config: AgentTrainConfig, callbacks: Callback | Sequence[Callback] = (), *,
                victim: Victim | None = None, path: Path | None = None) -> Agent:
    """Train the agent of built-in ``config.victim`` (training split only) and save it; see the module doc.

    By default it attacks the victim's shipped network and is saved as the shipped agent
    (:func:`agent_path`). With ``victim`` it is trained against that network instead (e.g. hardened
    weights: an adaptive attacker), and ``path`` saves it elsewhere; ``path`` is then required, so
    that a shipped agent is never replaced by one trained against other weights. The hash of the
    weights goes into the agent's metadata, so that loading it can tell when they have changed since.
    ``callbacks`` are told of each stage (``on_message``).
    """
    from sb3_contrib import MaskablePPO
    from stable_baselines3.common.vec_env import DummyVecEnv

    if victim is not None and path is None:
        raise ValueError("an agent trained against a given network needs its own path")
    callbacks = as_callbacks(callbacks)
    started = time.time()
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    shipped = victim is None
    victim = Victim.builtin(config.victim) if victim is None else victim
    train = training_inputs(victim, config.n_inputs, "train", config.augment_flips, rng)
    val_split = "val" if len(victim.dataset("val")) else "train"
    val = training_inputs(victim, config.n_val, val_split, False, np.random.default_rng(config.seed + 1))
    callbacks.on_message(f"{config.victim}: {len(train)} training inputs, {len(val)} validation inputs ({val_split})")

    # 2-3. Teacher, imitation, then DAgger rounds on the states the policy itself reaches.
    teacher_env = make_env(victim, train, config, budget=None)
    states = labelled_walks(teacher_env, config, rng, callbacks)
    envs = DummyVecEnv([lambda: make_env(victim, train, config, config.episode_budget) for _ in range(config.n_envs)])
    envs.seed(config.seed)
    model = MaskablePPO(PatchPolicy, envs, learning_rate=config.ppo_lr, n_steps=256, batch_size=256, n_epochs=4,
                        gamma=0.98, clip_range=0.1, ent_coef=0.0, seed=config.seed, verbose=0)
    meta = {**asdict(config), "victim_weights_sha256": victim.sha256 or "a given model",
            "filters": [f.name for f in attack_filters(victim, config.filters)[0]],
            "command": f"python -m rlab_core train-agent --victim {config.victim} --steps {config.ppo_steps} "
                       f"--seed {config.seed}"}
    policy = cast(PatchPolicy, model.policy)  # MaskablePPO builds the policy class it is given, once
    imitation = Agent(policy, meta)
    imitate(policy, states, config.imitation_epochs, config.seed, callbacks)
    for _ in range(config.dagger_rounds):
        states += labelled_walks(teacher_env, config, rng, callbacks, agent=imitation, steps=2 * config.teacher_steps)
        imitate(policy, states, config.imitation_epochs, config.seed, callbacks)
    imitation_state = {k: v.clone() for k, v in model.policy.state_dict().items()}
    scores = {"imitation": evaluate(imitation, victim, val, config.val_budget)}
    callbacks.on_message(f"imitation policy on validation: {scores['imitation']}")

    # 4. PPO fine-tuning.
    if config.ppo_steps:
        ppo_progress = cast("BaseCallback", _ProgressLog(config.ppo_steps, callbacks))
        model.learn(config.ppo_steps, progress_bar=False, callback=ppo_progress)
        scores["ppo"] = evaluate(Agent(policy, meta), victim, val, config.val_budget)
        callbacks.on_message(f"fine-tuned policy on validation: {scores['ppo']}")

    # 5. Selection: the better policy on validation (success first, then fewer queries).
    chosen = max(scores, key=lambda k: (scores[k]["success_rate"], -scores[k]["median_queries"]))
    if chosen == "imitation":
        model.policy.load_state_dict(imitation_state)
    meta = {**meta, "validation": scores, "chosen": chosen, "training_seconds": round(time.time() - started, 1),
            "teacher_states": len(states), "training_inputs": len(train)}
    path = agent_path(config.victim) if shipped or path is None else path
    save(model, meta, path)
    callbacks.on_message(f"saved {path} ({chosen} policy) after {time.time() - started:.0f}s")
    return Agent(policy, meta)


class _ProgressLog:
    """An SB3 callback that tells ``callbacks`` of progress every tenth of training (a progress bar for logs)."""

    def __new__(cls, total: int, callbacks: CallbackList):
        from stable_baselines3.common.callbacks import BaseCallback

        class PPOProgress(BaseCallback):
            def _on_step(self) -> bool:
                if self.num_timesteps % max(1, total // 10) < self.training_env.num_envs:
                    callbacks.on_message(f"ppo: {self.num_timesteps}/{total} steps")
                return True

        return PPOProgress()


# ------------------------------------------------------------------------------ saving, loading

def agent_path(victim: str) -> Path:
    """The shipped agent of built-in ``victim`` (one agent may serve several victims: its profile says)."""
    return AGENTS / f"{get_profile(victim).agent_name}.zip"


def adaptive_agent_path(weights: Path) -> Path:
    """The adaptive agent of hardened ``weights``: in ``assets/agents/`` for weights in
    ``assets/victims/``, else beside them."""
    weights = Path(weights)
    folder = AGENTS if weights.parent.resolve() == WEIGHTS.resolve() else weights.parent
    return folder / f"{weights.stem}-agent.zip"


def save(model, meta: dict, path: Path) -> None:
    with atomic_path(path) as partial:  # a loader never sees an archive without its rlab.json
        model.save(partial)
        with zipfile.ZipFile(partial, "a") as archive:
            archive.writestr(META_NAME, json.dumps(meta, indent=2, default=str))


def load_agent(victim: Victim | str, callbacks: Callback | Sequence[Callback] = (), path: Path | None = None) -> Agent:
    """The shipped agent of ``victim`` (a :class:`Victim` or a built-in name: the agent of the profile it
    is shaped like), or the agent at ``path``, trained against ``victim``'s weights. Only files inside
    this repository are ever loaded (an SB3 ``.zip`` is unpickled). When the agent's metadata says it
    was trained against other weights than these, ``callbacks`` are warned (``on_message(..., warning=True)``)."""
    from sb3_contrib import MaskablePPO

    profile = get_profile(victim) if isinstance(victim, str) else victim.profile
    if profile is None:
        assert not isinstance(victim, str)  # a built-in name always has its profile
        raise AgentError(f"{victim.name} is shaped like no built-in victim, so no shipped agent fits it")
    shipped = path is None
    path = agent_path(profile.name) if path is None else Path(path)  # path is None: shipped
    if not path.resolve().is_relative_to(ROOT):
        raise AgentError(f"{path} is outside this repository: RLAB loads only agents it trained itself")
    if not path.exists():
        how = (f"train one with: python -m rlab_core train-agent --victim {profile.agent_name}" if shipped
               else f"it is made with the hardened weights by: python -m benchmarks.robustness --victim {profile.name}")
        raise AgentError(f"no agent for {profile.name} at {path}; {how}")
    with zipfile.ZipFile(path) as archive:
        meta = json.loads(archive.read(META_NAME))
    # The zip pickles the policy's class path as it was when the agent was saved (rlab_core.attack.policy
    # before the core's redesign): the class is given here instead, so every saved agent loads.
    model = MaskablePPO.load(path, device="cpu", custom_objects={"policy_class": PatchPolicy, "learning_rate": 0.0,
                                                                 "lr_schedule": lambda _: 0.0})
    trained_on = meta.get("victim_weights_sha256")
    expected = (file_sha256(get_profile(profile.agent_name).weights_path) if shipped or isinstance(victim, str)
                else victim.sha256)
    # Agents trained against a network before its file's hash was recorded say "a given model": nothing to check.
    if trained_on != expected and trained_on != "a given model":
        as_callbacks(callbacks).on_message(f"the agent at {path} was trained against other weights of {profile.name} "
                                           f"({trained_on} vs {expected}); its figures may not hold", warning=True)
    return Agent(cast(PatchPolicy, model.policy), meta)  # policy_class above


def load_adaptive_agent(victim: Victim, callbacks: Callback | Sequence[Callback] = ()) -> Agent:
    """The agent trained again against ``victim``'s hardened weights (the robustness report's adaptive
    attacker); ``callbacks`` are warned if those weights changed after it was trained."""
    if victim.profile is None or victim.weights_path is None or victim.weights == "shipped":
        raise AgentError("the adaptive agent was trained against hardened weights: attack those, not "
                         f"{victim.name}'s {victim.weights} weights")
    return load_agent(victim, callbacks, path=adaptive_agent_path(victim.weights_path))


def recipe(victim: str, steps: int | None = None, seed: int = 0) -> AgentTrainConfig:
    """The training settings of built-in ``victim``'s agent (its profile's recipe), with ``steps`` PPO steps."""
    settings = get_profile(victim).agent_recipe
    if settings is None:
        trainable = [name for name, p in PROFILES.items() if p.agent_recipe is not None]
        raise ValueError(f"no agent recipe for {victim!r}; agents train for: {', '.join(trainable)}")
    config = AgentTrainConfig(victim, seed=seed, **settings)
    return config if steps is None else replace(config, ppo_steps=steps)
