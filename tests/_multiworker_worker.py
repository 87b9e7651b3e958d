"""One worker of the two-process MultiWorkerMirroredStrategy test (tests/test_multiworker.py).

Run as ``python _multiworker_worker.py RUN_DIR OUT.npz [interrupt_after]`` with ``TF_CONFIG`` set.
It trains the tiny classifier with both phases (cached head, then fine-tuning) under the
strategy and writes its starting and final weights, and what it learned, to ``OUT.npz``.
``interrupt_after``: stop (Ctrl-C) after that epoch, as a killed run would, to test resuming.
"""
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import daylib  # noqa: E402,F401  (TensorFlow backend, quiet import)
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from daylib.training import train_classifier  # noqa: E402
from daylib.training.strategy import check_tf_config  # noqa: E402
from _helpers_train import EpochStarts, InterruptAfter, make_model, phantom_data  # noqa: E402

SETTINGS = dict(head_epochs=2, fine_tune_epochs=2, top_n=3, head_learning_rate=0.05, fine_tune_learning_rate=1e-3,
                patience=None, batch_size=8, verbose=0)


def audit_writes(folder: str) -> list:
    """Record every file change under ``folder`` this process makes (Python's audit events)."""
    changes, root = [], os.path.realpath(folder)
    writing = {"os.rename", "os.remove", "os.mkdir", "os.rmdir", "shutil.rmtree", "os.truncate"}

    def hook(event, args):
        if event == "open":
            mode = args[1] if len(args) > 1 and isinstance(args[1], str) else "r"
            if not any(flag in mode for flag in "wax+"):
                return
            args = args[:1]
        elif event not in writing:
            return
        paths = [os.path.realpath(a) for a in args[:2] if isinstance(a, (str, os.PathLike))]
        if any(path == root or path.startswith(root + os.sep) for path in paths):
            changes.append([event, os.path.relpath(paths[-1], root)])  # a rename's destination

    sys.addaudithook(hook)
    return changes


def main(run_dir: str, out: str, interrupt_after: int = -1) -> None:
    index, count = check_tf_config()
    changes = audit_writes(run_dir)
    strategy = tf.distribute.MultiWorkerMirroredStrategy()
    start = {}

    def factory():
        model = make_model()
        start["weights"] = [np.array(v.numpy()) for v in model.variables]
        return model

    train, val = phantom_data()  # the same seeded data on every worker
    starts = EpochStarts()
    callbacks = [starts] + ([InterruptAfter(interrupt_after)] if interrupt_after >= 0 else [])
    try:
        history = train_classifier(factory, train, val, run_dir=run_dir, strategy=strategy, callbacks=callbacks,
                                   **SETTINGS)
    except KeyboardInterrupt:
        print(json.dumps({"worker": index, "interrupted_after": interrupt_after, "starts": starts.epochs,
                          "changes": changes}))
        return
    final = [np.array(v.numpy()) for v in history.model.variables]
    arrays = {f"start_{i:03d}": w for i, w in enumerate(start["weights"])}
    arrays.update({f"final_{i:03d}": w for i, w in enumerate(final)})
    np.savez(out, **arrays)
    print(json.dumps({"worker": index, "workers": count, "replicas": strategy.num_replicas_in_sync,
                      "epoch": history.epoch, "fine_tune_epoch": history.fine_tune_epoch, "starts": starts.epochs,
                      "val_loss": history.history["val_loss"], "changes": changes}))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]) if len(sys.argv) > 3 else -1)
