"""Write small legacy-format ``torch.save`` files without torch, to test the reader.

The pickles name torch's globals (``torch._utils._rebuild_tensor_v2``,
``torch.FloatStorage``...) exactly as PyTorch writes them: stand-ins defined here
are pickled with protocol 2, whose ``GLOBAL`` opcode spells ``module\\nname\\n``
in plain text, and this module's name is then replaced by torch's.
"""
from __future__ import annotations

import collections
import io
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from daylib.models.torch_legacy import MAGIC_NUMBER, PROTOCOL_VERSION

SYS_INFO = {
    "protocol_version": PROTOCOL_VERSION,
    "little_endian": True,
    "type_sizes": {"short": 2, "int": 4, "long": 4},
}


class FloatStorage:
    """Stand-in pickled as ``torch.FloatStorage``."""


class HalfStorage:
    """Stand-in pickled as ``torch.HalfStorage``."""


class LongStorage:
    """Stand-in pickled as ``torch.LongStorage``."""


def _rebuild_tensor_v2(*args):
    """Stand-in pickled as ``torch._utils._rebuild_tensor_v2``; never called."""
    raise AssertionError("the stand-in must not run")


STORAGE_CLASSES = {
    np.dtype(np.float32): FloatStorage,
    np.dtype(np.float16): HalfStorage,
    np.dtype(np.int64): LongStorage,
}
TORCH_MODULES = {"_rebuild_tensor_v2": "torch._utils", **{cls.__name__: "torch" for cls in STORAGE_CLASSES.values()}}


@dataclass(frozen=True)
class Storage:
    """A storage's bytes; ``numel`` and ``pid`` override what the file declares (to write broken files)."""

    key: str
    data: np.ndarray
    numel: int | None = None
    pid: tuple | None = None

    @property
    def declared_numel(self) -> int:
        """The element count written in the persistent id and in the storage header."""
        return self.data.size if self.numel is None else self.numel


@dataclass(frozen=True)
class Tensor:
    """A tensor as torch pickles it: a view ``(offset, shape, stride)`` of a storage."""

    storage: Storage
    offset: int
    shape: tuple[int, ...]
    stride: tuple[int, ...]

    def __reduce__(self):
        hooks = collections.OrderedDict()
        return (_rebuild_tensor_v2, (self.storage, self.offset, self.shape, self.stride, False, hooks))


class _Pickler(pickle.Pickler):
    def persistent_id(self, obj: Any):
        if isinstance(obj, Storage):
            if obj.pid is not None:
                return obj.pid
            return ("storage", STORAGE_CLASSES[obj.data.dtype], obj.key, "cpu", obj.declared_numel, None)
        return None


def torch_pickle(obj: Any) -> bytes:
    """Pickle ``obj`` (protocol 2) as torch would: stand-ins renamed to torch's globals."""
    buffer = io.BytesIO()
    _Pickler(buffer, protocol=2).dump(obj)
    data = buffer.getvalue()
    for name, module in TORCH_MODULES.items():
        data = data.replace(f"c{__name__}\n{name}\n".encode(), f"c{module}\n{name}\n".encode())
    assert __name__.encode() not in data
    return data


def header_bytes(sys_info: Any = SYS_INFO) -> bytes:
    """The three pickles that open a legacy file: magic number, protocol version, system info."""
    return b"".join(pickle.dumps(obj, protocol=2) for obj in (MAGIC_NUMBER, PROTOCOL_VERSION, sys_info))


def legacy_bytes(state: dict[str, Tensor], sys_info: Any = SYS_INFO, keys: Any = None) -> bytes:
    """The bytes of a legacy ``torch.save(state)`` file; ``keys`` overrides the pickled storage key list."""
    storages = {t.storage.key: t.storage for t in state.values() if isinstance(t, Tensor)}
    parts = [header_bytes(sys_info), torch_pickle(collections.OrderedDict(state))]
    parts.append(pickle.dumps(list(storages) if keys is None else keys, protocol=2))
    for storage in storages.values():
        parts.append(np.int64(storage.declared_numel).astype("<i8").tobytes())
        parts.append(storage.data.astype(storage.data.dtype.newbyteorder("<")).tobytes())
    return b"".join(parts)


def binunicode(text: str) -> bytes:
    """The pickle opcode ``BINUNICODE`` pushing ``text``, to hand-write pickles."""
    data = text.encode()
    return b"X" + len(data).to_bytes(4, "little") + data


def write_legacy(path: Path, state: dict[str, Tensor]) -> Path:
    """Write ``state`` as a legacy ``torch.save`` file at ``path``."""
    path.write_bytes(legacy_bytes(state))
    return path
