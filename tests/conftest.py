"""Shared test setup: quick mode, quiet TensorFlow, seeded runs, shipped photos."""
import atexit
import os
import shutil
import tempfile

os.environ.setdefault("DAYLIB_QUICK", "1")
# Runs and cached features go to a cache of this test session only (the lessons nbval runs inherit it),
# so no test depends on, or leaves behind, what an earlier session or the learner's own work put there.
os.environ["DAYLIB_CACHE_DIR"] = tempfile.mkdtemp(prefix="daylib-test-cache-")
atexit.register(shutil.rmtree, os.environ["DAYLIB_CACHE_DIR"], ignore_errors=True)

import daylib  # noqa: E402,F401  (selects the TF backend and silences CUDA noise before keras loads)
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from daylib import config  # noqa: E402


@pytest.fixture(autouse=True)
def _seeded():
    config.seed_everything(0)


@pytest.fixture(scope="session")
def cat_photo() -> np.ndarray:
    """The shipped CC0 cat photo at 224 px, RGB uint8."""
    from daylib.data.images import load_image

    return load_image(config.IMAGES_DIR / "chelsea.png", size=224)


@pytest.fixture(scope="session")
def coffee_photo() -> np.ndarray:
    """The shipped CC0 espresso photo at 224 px, RGB uint8."""
    from daylib.data.images import load_image

    return load_image(config.IMAGES_DIR / "coffee.png", size=224)


@pytest.fixture(scope="session")
def lite0():
    """The bundled EfficientNet-Lite0 with ImageNet weights, built once per session."""
    from daylib.models import efficientnet_lite0

    return efficientnet_lite0(weights="imagenet")
