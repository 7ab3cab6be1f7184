"""Hostile uploads: no ONNX model reads a server file, and every one runs in a jail with limits
(rlab_core/victims/jail.py, onnx_worker.py). The models are benchmarks/hostile.py's."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from onnx import ModelProto, TensorProto, helper, numpy_helper

from benchmarks import hostile
from rlab_core import ROOT
from rlab_core.victims import BlackBox, Victim, VictimError, get_profile
from rlab_core.victims.jail import JailLimits, ModelJail, ModelStopped
from rlab_core.victims.onnx_model import load_onnx
from rlab_core.victims.onnx_worker import build_session, external_tensors

TEMPLATE = get_profile("image-cnn")  # the hostile models take its (1, 28, 28) and give its 10 classes
LIMITS = JailLimits(floor_seconds=1.0, seconds_per_input=0.05, cap_seconds=3.0, memory_mb=1024)
CANARY = b"CANARY-" + bytes(range(65, 91)) * 1600  # 42 KB (more than the weights), a pattern no output holds by chance


@pytest.fixture
def canary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A secret file where a hostile model's external data points, relative to the working folder."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "secret.bin").write_bytes(CANARY)
    return tmp_path / "secret.bin"


def leaked(text: str | bytes) -> bool:
    data = text.encode() if isinstance(text, str) else text
    return b"CANARY" in data or b"ABCDEFGHIJKLMNOP" in data


@pytest.mark.parametrize("hiding_place", list(hostile.READERS))
@pytest.mark.parametrize("location", ["secret.bin", "./secret.bin", "../secret.bin", "/etc/hostname"])
def test_a_model_that_points_at_a_server_file_is_refused_before_any_session(
        canary: Path, hiding_place: str, location: str) -> None:
    model = hostile.READERS[hiding_place](location)
    assert external_tensors(model), "the check itself finds the tensor"
    with pytest.raises(VictimError, match="keeps weights outside the file") as refused:
        load_onnx(model.SerializeToString(), TEMPLATE, "hostile.onnx", LIMITS)
    assert location in str(refused.value) and not leaked(str(refused.value))


def test_the_check_walks_every_nested_message(canary: Path) -> None:
    """Deeper than a list of known places: both branches of an If inside a model-local function."""
    inner = helper.make_graph([helper.make_node("Identity", ["hidden"], ["out"])], "inner", [],
                              [helper.make_tensor_value_info("out", TensorProto.FLOAT, [1])],
                              initializer=[hostile.external_tensor("hidden", "secret.bin", (1,))])
    node = helper.make_node("If", ["c"], ["w"], then_branch=inner, else_branch=inner)
    function = helper.make_function("rlab.local", "Deep", ["c"], ["w"], [node], [helper.make_opsetid("", 17)])
    model = hostile.honest()
    model.functions.append(function)
    found = external_tensors(model)
    assert len(found) == 2 and all(f.startswith("tensor 'hidden' at model.functions[0]") for f in found)
    assert {"then_branch", "else_branch"} == {b for b in ("then_branch", "else_branch") for f in found if b in f}
    assert external_tensors(hostile.honest()) == []


def test_the_second_defence_reads_no_file_even_without_the_check(canary: Path, tmp_path: Path) -> None:
    """Sessions are built from bytes with external data looked for in an empty folder, so even a
    model that slipped past the check cannot read the file beside the server."""
    import onnxruntime

    empty = tmp_path / "empty"
    empty.mkdir()
    data = hostile.reads_top_level("secret.bin").SerializeToString()
    with pytest.raises(Exception, match="External data path") as failed:
        build_session(onnxruntime, data, str(empty))
    assert not leaked(str(failed.value))
    # Without the option, ONNX Runtime does read it: the test above would catch a regression.
    session = onnxruntime.InferenceSession(data, providers=["CPUExecutionProvider"])
    scores = session.run(None, {"x": np.eye(hostile.FEATURES, dtype=np.float32).reshape(-1, *hostile.SHAPE)[:4]})[0]
    assert leaked(scores.tobytes())


def test_an_honest_model_answers_through_the_jail() -> None:
    model = load_onnx(hostile.honest().SerializeToString(), TEMPLATE, "honest.onnx", LIMITS)
    weights = numpy_helper.to_array(hostile.honest().graph.initializer[0])
    x = torch.rand(70, *hostile.SHAPE)  # more than one call: the jail splits the batch
    expected = x.flatten(1).numpy().astype(np.float64) @ weights
    np.testing.assert_allclose(model(x).numpy(), expected, rtol=1e-4, atol=1e-3)
    assert model.jail.restarts == 0


def test_a_never_ending_graph_is_stopped_at_the_cap_and_the_next_upload_works() -> None:
    started = time.monotonic()
    with pytest.raises(ModelStopped, match=r"never\.onnx took longer than 3 s to answer 2 inputs, and was stopped"):
        load_onnx(hostile.never_answers().SerializeToString(), TEMPLATE, "never.onnx", LIMITS)
    assert time.monotonic() - started < LIMITS.cap_seconds + 10  # the cap, and a worker start on a busy machine
    model = load_onnx(hostile.honest().SerializeToString(), TEMPLATE, "honest.onnx", LIMITS)
    assert model(torch.rand(3, *hostile.SHAPE)).shape == (3, 10)


@pytest.mark.parametrize(("side", "message"), [
    (6_000, r"took longer than 3 s"),  # 3.5 TFLOP in 450 MB
    (200_000, r"needed more than 1024 MB of memory|crashed ONNX Runtime"),  # 160 GB
])
def test_a_kernel_bomb_is_stopped_within_its_limits(side: int, message: str) -> None:
    started = time.monotonic()
    with pytest.raises(ModelStopped, match=message):
        load_onnx(hostile.one_huge_kernel(side).SerializeToString(), TEMPLATE, "bomb.onnx", LIMITS)
    assert time.monotonic() - started < LIMITS.cap_seconds + 10  # the cap, and a worker start on a busy machine


def test_a_crashed_worker_is_one_message_and_the_next_call_starts_a_new_one() -> None:
    model = load_onnx(hostile.honest().SerializeToString(), TEMPLATE, "honest.onnx", LIMITS)
    black_box = BlackBox(Victim.like(model, TEMPLATE.name, name=model.filename, weights="onnx", sha256=model.sha256))
    black_box.probs(torch.rand(*hostile.SHAPE))
    os.kill(model.jail._process.pid, signal.SIGSEGV)
    crashed = r"honest\.onnx crashed ONNX Runtime \(SIGSEGV\) to answer 5 inputs"
    with pytest.raises(ModelStopped, match=crashed) as stopped:
        black_box.probs(torch.rand(5, *hostile.SHAPE))
    assert stopped.value.queries == 6  # the black box says what was spent, the stopped batch included
    assert black_box.probs(torch.rand(2, *hostile.SHAPE)).shape == (2, 10)
    assert model.jail.restarts == 1


def test_the_worker_dies_with_its_parent(tmp_path: Path) -> None:
    script = ("import sys, time; sys.path.insert(0, sys.argv[1]); from benchmarks import hostile; "
              "from rlab_core.victims.jail import ModelJail; jail = ModelJail(); "
              "jail.load(hostile.honest().SerializeToString()); print(jail._process.pid, flush=True); time.sleep(60)")
    parent = subprocess.Popen([sys.executable, "-c", script, str(ROOT)], stdout=subprocess.PIPE, text=True)
    worker = int(parent.stdout.readline())
    parent.kill()
    parent.wait()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and Path(f"/proc/{worker}").exists() and "Z" not in stat(worker):
        time.sleep(0.05)
    assert not Path(f"/proc/{worker}").exists() or "Z" in stat(worker)


def stat(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[1].split()[0]
    except (FileNotFoundError, IndexError):
        return "Z"


def test_limits_scale_with_the_batch_and_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    limits = JailLimits(floor_seconds=1, seconds_per_input=0.25, cap_seconds=30)
    assert [limits.seconds_for(n) for n in (1, 4, 40, 1000)] == [1, 1, 10, 30]
    assert limits.inputs_per_call(4 * 784) == 120 and limits.inputs_per_call(4 * 3 * 8 * 224 * 224) == 3
    monkeypatch.setenv("RLAB_MODEL_CAP_SECONDS", "5")
    monkeypatch.setenv("RLAB_MODEL_MEMORY_MB", "2048")
    assert (JailLimits.from_env().cap_seconds, JailLimits.from_env().memory_mb) == (5.0, 2048)
    monkeypatch.setenv("RLAB_MODEL_CAP_SECONDS", "soon")
    with pytest.raises(VictimError, match="RLAB_MODEL_CAP_SECONDS='soon' is not a number"):
        JailLimits.from_env()
    with pytest.raises(ValueError, match="inconsistent"):
        JailLimits(floor_seconds=10, cap_seconds=5)


def test_the_jail_refuses_an_answer_that_is_not_scores() -> None:
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", *hostile.SHAPE])
    out = helper.make_tensor_value_info("scores", TensorProto.FLOAT, None)
    shape = numpy_helper.from_array(np.array([1, 10**6], np.int64), "shape")
    graph = helper.make_graph([helper.make_node("Expand", ["one", "shape"], ["scores"])], "flood", [x], [out],
                              initializer=[shape, numpy_helper.from_array(np.ones((1, 1), np.float32), "one")])
    flood = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=9)
    jail = ModelJail(LIMITS)
    jail.load(flood.SerializeToString())
    with pytest.raises(VictimError, match="gives 1,000,000 values for 1 input"):
        jail.run(np.zeros((1, *hostile.SHAPE), np.float32))
    jail.close()


# --------------------------------------------------------------------------------- the CLI
def hangs_after_clean(clean: torch.Tensor, label: int = 0) -> ModelProto:
    """Answers the upload check's probe and the ``clean`` input (with ``label`` on top); loops for
    ever on anything else (told apart by the sum of the batch's values)."""
    probe = torch.rand(2, *hostile.SHAPE, generator=torch.Generator().manual_seed(0))  # load_onnx's probe
    model = hostile.never_answers()
    graph = model.graph
    graph.initializer.remove(next(t for t in graph.initializer if t.name == "steps"))
    graph.initializer.extend(numpy_helper.from_array(np.array(value, dtype), name) for name, value, dtype in (
        ("clean_sum", float(clean.sum()), np.float32), ("probe_sum", float(probe.sum()), np.float32),
        ("tolerance", 1e-2, np.float32), ("forever", 10**12, np.int64)))
    decide = [helper.make_node("ReduceSum", ["x"], ["total"], keepdims=0)]
    for known in ("clean_sum", "probe_sum"):
        decide += [helper.make_node("Sub", ["total", known], [f"{known}_off"]),
                   helper.make_node("Abs", [f"{known}_off"], [f"{known}_distance"]),
                   helper.make_node("Greater", [f"{known}_distance", "tolerance"], [f"not_{known}"])]
    decide += [helper.make_node("And", ["not_clean_sum", "not_probe_sum"], ["hang"]),
               helper.make_node("Cast", ["hang"], ["hang_count"], to=TensorProto.INT64),
               helper.make_node("Mul", ["hang_count", "forever"], ["steps"])]
    # The loop's result multiplies zero weights: add ones after it that score the sum of the pixels for ``label``.
    weights = np.zeros((hostile.FEATURES, 10), np.float32)
    weights[:, label] = 1.0
    graph.initializer.append(numpy_helper.from_array(weights, "W1"))
    nodes = list(graph.node)
    nodes[-1].input[1] = "W_total"  # the classifier's MatMul
    del graph.node[:]
    graph.node.extend([*decide, *nodes[:-2], helper.make_node("Add", ["W", "W1"], ["W_total"]), *nodes[-2:]])
    return model


def run_cli(*args: str, cap: float = 3.0) -> subprocess.CompletedProcess:
    env = {**os.environ, "RLAB_MODEL_CAP_SECONDS": str(cap), "RLAB_MODEL_FLOOR_SECONDS": "1"}
    return subprocess.run([sys.executable, "-m", "rlab_core", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=300, check=False, env=env)


def test_cli_refuses_hostile_models_in_one_line(tmp_path: Path) -> None:
    (tmp_path / "secret.bin").write_bytes(CANARY)
    reads = tmp_path / "reads.onnx"
    reads.write_bytes(hostile.reads_function("secret.bin").SerializeToString())
    never = tmp_path / "never.onnx"
    never.write_bytes(hostile.never_answers().SerializeToString())
    for command, path, message in (("predict", reads, "keeps weights outside the file"),
                                   ("predict", never, "took longer than 3 s to answer 2 inputs"),
                                   ("attack", never, "took longer than 3 s to answer 2 inputs")):  # stopped at load
        out = run_cli(command, "--modality", "image", "--sample", "0", "--model", str(path), "--json")
        [line] = out.stderr.strip().splitlines()
        assert out.returncode == 2 and message in line and out.stdout == "" and not leaked(out.stderr), out.stderr


def unlabelled_input(folder: Path) -> tuple[Path, torch.Tensor]:
    """A test image as an upload (no label: the attack takes the model's clean top-1) and the
    input the CLI makes of it."""
    from rlab_core.attacks.output import save_png
    from rlab_core.io import load_input

    path = folder / "garment.png"
    save_png(path, TEMPLATE.dataset("test")[0].x)
    return path, load_input(path.read_bytes(), path.name, TEMPLATE).sample.x


def test_an_attack_that_hits_a_limit_stops_and_keeps_its_record(tmp_path: Path) -> None:
    image, x = unlabelled_input(tmp_path)
    path = tmp_path / "hangs.onnx"
    path.write_bytes(hangs_after_clean(x).SerializeToString())
    out = run_cli("attack", "--modality", "image", "--input", str(image), "--model", str(path), "--budget", "50",
                  "--json", "--out", str(tmp_path / "run"))
    [line] = out.stderr.strip().splitlines()
    assert out.returncode == 2, out.stderr
    assert line.startswith("error: hangs.onnx took longer than 1 s to answer 1 input")
    record = json.loads(out.stdout)
    assert record["queries_at_stop"] == 2 and record["stopped"] in line  # the clean prediction, then the first step
    assert record["model"]["file"] == "hangs.onnx"
    assert json.loads((tmp_path / "run" / "result.json").read_text()) == record
    assert json.loads((tmp_path / "run" / "trajectory.json").read_text()) == []


def test_an_explanation_that_hits_a_limit_stops_and_keeps_its_record(tmp_path: Path) -> None:
    image, x = unlabelled_input(tmp_path)
    path = tmp_path / "hangs.onnx"
    path.write_bytes(hangs_after_clean(x).SerializeToString())
    out = run_cli("explain", "--modality", "image", "--input", str(image), "--model", str(path), "--methods",
                  "occlusion", "--json", "--out", str(tmp_path / "maps"))
    assert out.returncode == 2 and len(out.stderr.strip().splitlines()) == 1, out.stderr
    record = json.loads((tmp_path / "maps" / "explanation.json").read_text())
    assert record["stopped_in"] == "occlusion" and record["queries_at_stop"] >= 2


def test_a_benchmark_that_hits_a_limit_stops_and_keeps_its_record(tmp_path: Path) -> None:
    sample = TEMPLATE.dataset("test")[0]
    path = tmp_path / "hangs.onnx"
    path.write_bytes(hangs_after_clean(sample.x, sample.y).SerializeToString())  # hangs on the second test item
    out = run_cli("bench", "--modality", "image", "--attacks", "random", "--n", "3", "--budget", "20", "--model",
                  str(path), "--out", str(tmp_path / "bench.json"))
    [line] = out.stderr.strip().splitlines()[-1:]
    assert out.returncode == 2 and "hangs.onnx took longer than 1 s to answer 1 input" in line, out.stderr
    record = json.loads((tmp_path / "bench.json").read_text())
    assert record["stopped"] in line and record["command"].endswith(f"--model {path} --out {tmp_path / 'bench.json'}")


def test_the_refusal_comes_before_any_session_and_the_worker_sees_no_secret(
        canary: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The worker's own load, in this process: a model pointing outside never reaches ONNX Runtime."""
    from rlab_core.victims import onnx_worker

    def no_session(*_args):
        raise AssertionError("a session was built for a model that reads a server file")

    monkeypatch.setattr(onnx_worker, "build_session", no_session)
    worker = onnx_worker.Worker(str(tmp_path))
    for make in hostile.READERS.values():
        reply = worker.load(make("secret.bin").SerializeToString())
        assert reply["kind"] == "refused" and "keeps weights outside the file" in reply["message"]
    # The worker's environment holds none of the server's variables but what a process needs.
    monkeypatch.setenv("RLAB_SERVER_SECRET", "hunter2")
    jail = ModelJail(LIMITS)
    jail._start(LIMITS.cap_seconds)
    seen = subprocess.run(["cat", f"/proc/{jail._process.pid}/environ"], capture_output=True, check=True).stdout
    jail.close()
    assert b"RLAB_SERVER_SECRET" not in seen and b"hunter2" not in seen and b"OMP_NUM_THREADS=1" in seen
