"""Read a PyTorch state dict saved in the *legacy* (non-zip) ``torch.save`` format, with NumPy only.

The bundled ImageNet weights ship as such a file. PyTorch itself is not needed
(and not installed): the format is a few pickles followed by raw storage bytes.

A ``.pth`` file is a pickle, and unpickling runs whatever callables the file
names. This reader therefore resolves only the handful of names a state dict of
tensors needs (:data:`ALLOWED_GLOBALS`) to harmless stand-ins and refuses
everything else with :class:`UnsafePickleError` before anything runs.

Layout of a legacy file (all pickles use protocol 2):

1. the magic number ``0x1950a86a20f9469cfc6c``;
2. the protocol version ``1001``;
3. a dict of system info (byte order, type sizes);
4. the object itself, whose tensors point at storages through persistent ids
   ``("storage", StorageType, key, location, numel, view_metadata)``;
5. the list of storage keys, in the order their bytes follow;
6. for each storage: its element count as an 8-byte integer, then its raw bytes.

Example:
    >>> from daylib.models.torch_legacy import load_legacy_state_dict
    >>> state = load_legacy_state_dict("efficientnet-lite0-57934424.pth")
    >>> state["_conv_stem.weight"].shape
    (32, 3, 3, 3)
"""
from __future__ import annotations

import collections
import os
import pickle
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Union

import numpy as np

MAGIC_NUMBER = 0x1950A86A20F9469CFC6C
PROTOCOL_VERSION = 1001

STORAGE_DTYPES: dict[str, np.dtype] = {
    "DoubleStorage": np.dtype(np.float64),
    "FloatStorage": np.dtype(np.float32),
    "HalfStorage": np.dtype(np.float16),
    "LongStorage": np.dtype(np.int64),
    "IntStorage": np.dtype(np.int32),
    "ShortStorage": np.dtype(np.int16),
    "CharStorage": np.dtype(np.int8),
    "ByteStorage": np.dtype(np.uint8),
    "BoolStorage": np.dtype(np.bool_),
}
"""PyTorch storage classes this reader understands, and their NumPy dtypes."""

ALLOWED_GLOBALS: frozenset[tuple[str, str]] = frozenset(
    {
        ("collections", "OrderedDict"),
        ("torch._utils", "_rebuild_tensor_v2"),
        ("torch._utils", "_rebuild_parameter"),
    }
    | {("torch", name) for name in STORAGE_DTYPES}
)
"""The only ``(module, name)`` pairs a file may refer to; anything else is refused."""

PathLike = Union[str, os.PathLike]


class TorchFormatError(ValueError):
    """The file is not a legacy ``torch.save`` state dict this reader can decode."""


class UnsafePickleError(pickle.UnpicklingError):
    """The pickle asked for a class or function outside :data:`ALLOWED_GLOBALS`.

    Attributes:
        refused: ``"module.name"`` of the refused global.
    """

    def __init__(self, module: str, name: str):
        self.refused = f"{module}.{name}"
        super().__init__(
            f"refused to load global {self.refused!r}: a PyTorch state dict only needs "
            f"{sorted('.'.join(pair) for pair in ALLOWED_GLOBALS)}. The file may be "
            "malicious or not a plain state dict; do not load it with torch.load either."
        )


@dataclass(frozen=True)
class _StorageType:
    name: str
    dtype: np.dtype


@dataclass(frozen=True)
class _StorageRef:
    key: str
    dtype: np.dtype
    numel: int


@dataclass(frozen=True)
class _TensorRef:
    storage: _StorageRef
    offset: int
    shape: tuple[int, ...]
    stride: tuple[int, ...]


def _rebuild_tensor_v2(storage, storage_offset, size, stride, *_grad_hooks_and_metadata):
    if not isinstance(storage, _StorageRef):
        raise TorchFormatError(f"a tensor points at {type(storage).__name__}, not at a storage")
    return _TensorRef(storage, int(storage_offset), tuple(int(n) for n in size), tuple(int(s) for s in stride))


def _rebuild_parameter(data, *_grad_and_hooks):
    return data


_STAND_INS: dict[tuple[str, str], Any] = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    **{("torch", name): _StorageType(name, dtype) for name, dtype in STORAGE_DTYPES.items()},
}


class _RestrictedUnpickler(pickle.Unpickler):
    """Resolves only :data:`ALLOWED_GLOBALS`, to stand-ins; storages become :class:`_StorageRef`."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in ALLOWED_GLOBALS:
            raise UnsafePickleError(module, name)
        return _STAND_INS[(module, name)]

    def persistent_load(self, pid: Any) -> _StorageRef:
        if not (isinstance(pid, tuple) and len(pid) >= 5 and pid[0] == "storage"):
            raise TorchFormatError(f"unexpected persistent id {pid!r}; expected ('storage', ...)")
        storage_type, key, _location, numel = pid[1:5]
        view_metadata = pid[5] if len(pid) > 5 else None
        if not isinstance(storage_type, _StorageType):
            raise TorchFormatError(f"storage {key!r} has type {storage_type!r}, not a torch storage class")
        if view_metadata is not None:
            raise TorchFormatError(f"storage {key!r} is a storage view (PyTorch < 0.4); re-save the file")
        return _StorageRef(str(key), storage_type.dtype, int(numel))


def _load_pickle(file: BinaryIO) -> Any:
    try:
        return _RestrictedUnpickler(file).load()
    except (UnsafePickleError, TorchFormatError):
        raise
    except (pickle.UnpicklingError, EOFError, TypeError, ValueError, AttributeError, IndexError) as err:
        raise TorchFormatError(f"corrupt pickle in the file: {err}") from err


def load_legacy_state_dict(path: PathLike) -> dict[str, np.ndarray]:
    """Read a legacy-format ``torch.save`` state dict into ``{name: numpy array}``.

    Tensors keep their shape and dtype (PyTorch layout, e.g. conv kernels
    ``(out, in, kh, kw)``); strides and storage offsets are honoured and every
    array is a fresh, C-contiguous copy.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        UnsafePickleError: the file names a class or function outside :data:`ALLOWED_GLOBALS`
            (nothing from the file has run).
        TorchFormatError: not a legacy file (e.g. the newer zip format), or truncated or corrupt.

    Example:
        >>> state = load_legacy_state_dict(path)
        >>> state["_fc.weight"].shape, state["_fc.weight"].dtype
        ((1000, 1280), dtype('float32'))
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no PyTorch weights file at {path}")
    if zipfile.is_zipfile(path):
        raise TorchFormatError(
            f"{path} uses the zip format of torch.save (PyTorch >= 1.6); this reader handles only "
            "the legacy format (torch.save(..., _use_new_zipfile_serialization=False))"
        )
    with open(path, "rb") as file:
        return _read(file, source=str(path))


def _read(file: BinaryIO, source: str) -> dict[str, np.ndarray]:
    magic = _load_pickle(file)
    if magic != MAGIC_NUMBER:
        raise TorchFormatError(f"{source} is not a legacy torch.save file (wrong magic number)")
    version = _load_pickle(file)
    if version != PROTOCOL_VERSION:
        raise TorchFormatError(f"{source}: unsupported torch.save protocol version {version!r}")
    sys_info = _load_pickle(file)
    byte_order = "<" if not isinstance(sys_info, dict) or sys_info.get("little_endian", True) else ">"
    obj = _load_pickle(file)
    keys = _load_pickle(file)
    if not isinstance(obj, dict) or not all(isinstance(v, _TensorRef) for v in obj.values()):
        raise TorchFormatError(f"{source} does not hold a state dict of tensors (found {type(obj).__name__})")
    if not isinstance(keys, list):
        raise TorchFormatError(f"{source}: the storage key list is missing")
    storages = _read_storages(file, keys, _storage_refs(obj), byte_order, source)
    return {str(name): _materialize(ref, storages[ref.storage.key], name) for name, ref in obj.items()}


def _storage_refs(obj: dict) -> dict[str, _StorageRef]:
    refs: dict[str, _StorageRef] = {}
    for tensor in obj.values():
        known = refs.setdefault(tensor.storage.key, tensor.storage)
        if known.dtype != tensor.storage.dtype:
            raise TorchFormatError(f"storage {known.key!r} is declared with two dtypes")
    return refs


def _read_storages(
    file: BinaryIO, keys: list, refs: dict[str, _StorageRef], byte_order: str, source: str
) -> dict[str, np.ndarray]:
    missing = set(refs) - set(keys)
    if missing:
        raise TorchFormatError(f"{source}: storages {sorted(missing)[:3]} are used but not stored")
    storages: dict[str, np.ndarray] = {}
    for key in keys:
        if key not in refs:
            raise TorchFormatError(f"{source}: storage {key!r} is stored but no tensor uses it")
        ref = refs[key]
        header = file.read(8)
        if len(header) != 8:
            raise TorchFormatError(f"{source} is truncated (storage {key!r} is missing)")
        numel = int.from_bytes(header, "little" if byte_order == "<" else "big", signed=True)
        if numel != ref.numel:
            raise TorchFormatError(f"{source}: storage {key!r} holds {numel} elements, expected {ref.numel}")
        dtype = ref.dtype.newbyteorder(byte_order)
        data = file.read(numel * dtype.itemsize)
        if len(data) != numel * dtype.itemsize:
            raise TorchFormatError(f"{source} is truncated (storage {key!r} is incomplete)")
        storages[key] = np.frombuffer(data, dtype=dtype).astype(ref.dtype, copy=False)
    if file.read(1):
        raise TorchFormatError(f"{source} has trailing bytes after its last storage")
    return storages


def _materialize(ref: _TensorRef, storage: np.ndarray, name: str) -> np.ndarray:
    if len(ref.shape) != len(ref.stride) or min(ref.shape + ref.stride + (ref.offset,), default=0) < 0:
        raise TorchFormatError(f"tensor {name!r} has an invalid shape {ref.shape} / stride {ref.stride}")
    if 0 in ref.shape:
        return np.zeros(ref.shape, dtype=storage.dtype)
    last = ref.offset + sum((n - 1) * s for n, s in zip(ref.shape, ref.stride, strict=True))
    if last >= storage.size:
        raise TorchFormatError(f"tensor {name!r} reaches past the end of its storage")
    view = np.lib.stride_tricks.as_strided(
        storage[ref.offset :],
        shape=ref.shape,
        strides=tuple(s * storage.itemsize for s in ref.stride),
        writeable=False,
    )
    return np.array(view, order="C", copy=True)
