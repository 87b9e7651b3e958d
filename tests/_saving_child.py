"""Reload every ``*.keras`` model in a folder in a fresh process and write what it computes.

Run by tests/test_saving.py as ``python _saving_child.py FOLDER``. Only ``import daylib`` comes
before the loads (no custom_objects, no other daylib module), as in a learner's new kernel.
For each ``NAME.keras`` with inputs in ``NAME.npz`` it writes ``NAME.reloaded.npz``: the
predictions, and the Grad-CAM maps where the parent stored some.
"""
import sys
from pathlib import Path

import daylib  # noqa: F401  (the one import a learner's new kernel makes before loading)
import keras
import numpy as np

folder = Path(sys.argv[1])
loaded = {path.stem: keras.models.load_model(path) for path in sorted(folder.glob("*.keras"))}

from daylib.cam import GradCAM  # noqa: E402  (after the loads, so it cannot register anything for them)
from daylib.models.inference import predict  # noqa: E402

for name, model in loaded.items():
    stored = np.load(folder / f"{name}.npz")
    if "gradcam" in stored:  # an image model
        results = {"predictions": predict(model, stored["inputs"])[0], "gradcam": GradCAM(model)(stored["inputs"])}
    else:  # the head, on pooled features
        results = {"predictions": model.predict(stored["inputs"], verbose=0)}
    np.savez(folder / f"{name}.reloaded.npz", **results)
