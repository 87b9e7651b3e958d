"""Training under MultiWorkerMirroredStrategy: two worker processes on 127.0.0.1, CPU only.

Each worker runs ``tests/_multiworker_worker.py`` with its own ``TF_CONFIG``: the tiny
classifier, both phases, the same seeded data. The run is interrupted after the first
fine-tuning epoch and repeated, as a killed cluster job would be. Every subprocess has a hard
timeout and both are killed on any failure, so a stuck collective cannot hang the suite.
"""
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from daylib.training.strategy import agree, check_tf_config, chief_value, workers, writes_files

WORKER = Path(__file__).parent / "_multiworker_worker.py"
TIMEOUT_S = 480
"""Per launch of both workers: a hard cap far above a normal launch, which takes tens of seconds."""


def _free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def _run_workers(run_dir: Path, outputs: list[Path], *extra: str) -> list[dict]:
    """Start both workers, wait for both (hard timeout), return what each printed last (JSON)."""
    ports = _free_ports(2)
    cluster = {"worker": [f"127.0.0.1:{port}" for port in ports]}
    repo = str(Path(__file__).parent.parent)
    processes = []
    try:
        for index, out in enumerate(outputs):
            env = dict(os.environ, CUDA_VISIBLE_DEVICES="", TF_CPP_MIN_LOG_LEVEL="2", DAYLIB_QUICK="1",
                       PYTHONPATH=os.pathsep.join([repo, os.environ.get("PYTHONPATH", "")]),
                       TF_CONFIG=json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}}))
            processes.append(subprocess.Popen([sys.executable, str(WORKER), str(run_dir), str(out), *extra], env=env,
                                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
        results = [process.communicate(timeout=TIMEOUT_S) for process in processes]
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.communicate()
    for process, (stdout, stderr) in zip(processes, results):
        assert process.returncode == 0, stderr[-3000:]
    return [json.loads(stdout.strip().splitlines()[-1]) for stdout, _ in results]


def test_two_workers_train_identical_weights_only_the_chief_writes_and_they_resume_together(tmp_path):
    run_dir, outputs = tmp_path / "run", [tmp_path / "worker0.npz", tmp_path / "worker1.npz"]
    interrupted = _run_workers(run_dir, outputs, "2")  # Ctrl-C after epoch 2, the first fine-tuning epoch
    assert [r["starts"] for r in interrupted] == [[0, 1, 2], [0, 1, 2]]
    assert sorted(set(path.split(os.sep)[0] for _, path in interrupted[0]["changes"])) == [".", "fine_tune", "head"]
    assert interrupted[1]["changes"] == []
    assert (run_dir / "head" / "done.json").is_file()
    assert (run_dir / "fine_tune" / "states" / "epoch-0002.npz").is_file()

    resumed = _run_workers(run_dir, outputs)
    for result in resumed:
        assert result["workers"] == 2 and result["replicas"] == 2
        assert result["starts"] == [3]  # both skip phase 1 and resume phase 2 after the chief's state of epoch 2
        assert result["epoch"] == [0, 1, 2, 3] and result["fine_tune_epoch"] == 2
    assert resumed[0]["val_loss"] == resumed[1]["val_loss"]
    assert resumed[1]["changes"] == []
    assert any(path == os.path.join("fine_tune", "run.json") for _, path in resumed[0]["changes"])
    assert json.loads((run_dir / "fine_tune" / "run.json").read_text())["status"] == "finished"
    assert (run_dir / "fine_tune" / "model.weights.h5").is_file() and not (run_dir / "fine_tune" / "states").exists()

    chief, other = (np.load(path) for path in outputs)
    finals = sorted(name for name in chief.files if name.startswith("final_"))
    assert finals and finals == sorted(name for name in other.files if name.startswith("final_"))
    for name in finals:
        assert np.array_equal(chief[name], other[name]), name  # the same replicated weights, bit for bit
        assert np.isfinite(chief[name]).all(), name
    changed = [name for name in finals if not np.array_equal(chief[name], chief[name.replace("final", "start")])]
    assert len(changed) >= 4  # the head and the unfrozen conv layers trained (not only the dropout seed)


@pytest.mark.parametrize("tf_config, message", [
    ("{cluster: 2}", "not valid JSON"),
    ('{"task": {"type": "worker", "index": 0}}', "no cluster.worker list"),
    ('{"cluster": {"worker": ["127.0.0.1"]}, "task": {"type": "worker", "index": 0}}', "is not host:port"),
    ('{"cluster": {"worker": ["a:1", "a:1"]}, "task": {"type": "worker", "index": 0}}', "twice"),
    ('{"cluster": {"worker": ["a:1", "b:1"]}, "task": {"type": "worker", "index": 2}}', r"indices 0 to 1"),
    ('{"cluster": {"worker": ["a:1", "b:1"]}, "task": {"index": 1}}', "place in the worker list"),
    ('{"cluster": {"worker": ["a:1", "b:1"]}, "task": {"type": "chief", "index": 0}}', "not a chief of its cluster"),
])
def test_a_bad_tf_config_is_explained_before_tensorflow_reads_it(tf_config, message):
    with pytest.raises(ValueError, match=message):
        check_tf_config({"TF_CONFIG": tf_config})


def test_tf_config_gives_this_workers_index_and_the_count():
    good = json.dumps({"cluster": {"worker": ["10.0.0.1:2222", "10.0.0.2:2222", "[::1]:2222"]},
                       "task": {"type": "worker", "index": 1}})
    assert check_tf_config({"TF_CONFIG": good}) == (1, 3)
    with_chief = {"cluster": {"chief": ["a:1"], "worker": ["b:1", "c:1"]}, "task": {"type": "worker", "index": 1}}
    assert check_tf_config({"TF_CONFIG": json.dumps(with_chief)}) == (2, 3)
    assert check_tf_config({}) is None


def test_one_process_writes_and_agrees_with_itself():
    strategy = tf.distribute.get_strategy()
    assert workers(None) == 1 and workers(strategy) == 1 and writes_files(None) and writes_files(strategy)
    assert chief_value(None, 7) == 7 and agree(None, 3, "epoch", "fix") == 3


class _SecondWorker(tf.distribute.MultiWorkerMirroredStrategy):
    """A stand-in for worker 1 of a two-worker strategy whose chief holds 5: the rules without a cluster."""

    def __init__(self):  # no cluster, no server: only what the rules read
        pass

    cluster_resolver = tf.distribute.cluster_resolver.SimpleClusterResolver(
        tf.train.ClusterSpec({"worker": ["127.0.0.1:1", "127.0.0.1:2"]}), task_type="worker", task_id=1)

    class extended:
        should_checkpoint = False

    def reduce(self, op, value, axis):
        assert op == tf.distribute.ReduceOp.SUM and axis is None and float(value) == 0.0  # only the chief adds
        return tf.constant(5.0, tf.float64)


def test_a_worker_that_is_not_the_chief_writes_nothing_and_follows_the_chief():
    worker = _SecondWorker()
    assert workers(worker) == 2 and not writes_files(worker)
    assert chief_value(worker, 3) == 5.0 and agree(worker, 5, "epoch", "fix") == 5
    with pytest.raises(ValueError, match=r"epoch to resume from \(3\) differs from the chief.s \(5\): share"):
        agree(worker, 3, "epoch to resume from", "share the run folder.")
