"""The one list of heatmap methods: a key, a display label and the class, for each.

A method joins the list where its class is defined, with :func:`register`; everything
else reads the list: ``daylib.cam`` exports every registered class, :data:`METHODS`
maps labels to classes (``METHODS["Grad-CAM"]``), :data:`METHOD_LABELS` keys to labels
(the explorer's method toggle), :func:`method_key` reads any usual spelling, and the
tests run on every entry. Adding a method is one decorated class in
:mod:`daylib.cam.methods` (a CAM) or :mod:`daylib.cam.gradients` (an attribution on the input
pixels), and its tests.

Example:
    >>> from daylib.cam.registry import METHODS, method_class, method_key
    >>> method_key("Grad-CAM++"), method_class("score_cam").__name__
    ('gradcam++', 'ScoreCAM')
    >>> list(METHODS)[:6]
    ['CAM', 'Grad-CAM', 'Grad-CAM++', 'Score-CAM', 'LayerCAM', 'HiResCAM']
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterator, Mapping, Optional, TypeVar

__all__ = ["Method", "METHODS", "METHOD_LABELS", "method_class", "method_key", "methods", "register"]

T = TypeVar("T", bound=type)


@dataclass(frozen=True)
class Method:
    """One registered heatmap method.

    Attributes:
        key: short lower-case name, e.g. ``"gradcam++"`` (what widgets and functions take).
        label: display name, e.g. ``"Grad-CAM++"`` (figure titles, the explorer's buttons).
        cls: the class, e.g. :class:`daylib.cam.GradCAMPlusPlus`; ``cls(model, layer)`` builds it.

    Example:
        >>> methods()[1]
        Method(key='gradcam', label='Grad-CAM', cls=<class 'daylib.cam.methods.GradCAM'>)
    """

    key: str
    label: str
    cls: type


_METHODS: dict[str, Method] = {}


def register(key: str, label: str) -> Callable[[T], T]:
    """Class decorator: add a heatmap method to the list under ``key`` and ``label``.

    Raises:
        ValueError: the key, the label or a spelling of them is taken already.

    Example:
        >>> @register("meangrad", "Mean gradient")
        ... class MeanGradient(BaseCAM):
        ...     def channel_weights(self, activations, gradients, classes):
        ...         return tf.reduce_mean(gradients, axis=(2, 3))
    """

    def add(cls: T) -> T:
        for name in (key, label, cls.__name__):
            taken = _find(name)
            if taken is not None:
                raise ValueError(f"Heatmap method {name!r} is taken by {taken.cls.__name__}: pick another name.")
        _METHODS[key] = Method(key, label, cls)
        return cls

    return add


def methods() -> tuple[Method, ...]:
    """Every registered method, in the order the classes were defined.

    Example:
        >>> [method.key for method in methods()][:5]
        ['cam', 'gradcam', 'gradcam++', 'scorecam', 'layercam']
        >>> len(methods())                     # 9 CAMs and 5 input-gradient methods
        14
    """
    return tuple(_METHODS.values())


def method_key(method: str) -> str:
    """The key of a method from its key, label or class name in any usual spelling.

    Case, ``-``, ``_`` and spaces do not matter, and ``plusplus`` / ``pp`` read as ``++``.

    Raises:
        ValueError: an unknown method (the message lists the known ones).

    Example:
        >>> method_key("Grad-CAM"), method_key("score_cam"), method_key("GradCAMPlusPlus")
        ('gradcam', 'scorecam', 'gradcam++')
    """
    found = _find(str(method))
    if found is None:
        raise ValueError(f"Unknown heatmap method {method!r}; choose one of: {', '.join(_METHODS)}.")
    return found.key


def method_class(method: str) -> type:
    """The class of a method given in any spelling :func:`method_key` reads.

    Example:
        >>> method_class("Grad-CAM")(model)(images)       # heatmaps (B, H, W)
    """
    return _METHODS[method_key(method)].cls


def _spelling(name: str) -> str:
    key = name.lower()
    for old, new in (("-", ""), ("_", ""), (" ", ""), ("plusplus", "++"), ("pp", "++")):
        key = key.replace(old, new)
    return key


def _find(name: str) -> Optional[Method]:
    wanted = _spelling(name)
    for method in _METHODS.values():
        if wanted in {_spelling(method.key), _spelling(method.label), _spelling(method.cls.__name__)}:
            return method
    return None


class _View(Mapping):
    """A read-only mapping over the registry, always up to date."""

    def __init__(self, key: Callable[[Method], str], value: Callable[[Method], object]):
        self._key, self._value = key, value

    def __getitem__(self, name: str):
        for method in _METHODS.values():
            if self._key(method) == name:
                return self._value(method)
        raise KeyError(f"{name!r}; known: {', '.join(map(self._key, _METHODS.values()))}")

    def __iter__(self) -> Iterator[str]:
        return iter([self._key(method) for method in _METHODS.values()])

    def __len__(self) -> int:
        return len(_METHODS)

    def __repr__(self) -> str:
        return repr(dict(self))


METHODS: Mapping[str, type] = _View(lambda m: m.label, lambda m: m.cls)
"""Method classes by display label, e.g. ``METHODS["Grad-CAM"]``; iterate ``METHODS.items()`` to compare them all."""

METHOD_LABELS: Mapping[str, str] = _View(lambda m: m.key, lambda m: m.label)
"""Display labels by method key, e.g. ``METHOD_LABELS["gradcam++"] == "Grad-CAM++"``."""
