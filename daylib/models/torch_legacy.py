"""Read a PyTorch state dict saved in the *legacy* (non-zip) ``torch.save`` format, with NumPy only.

The bundled ImageNet weights ship as such a file. PyTorch itself is not needed
(and not installed): the format is a few pickles followed by raw storage bytes.

A ``.pth`` file is a pickle, and unpickling runs whatever callables the file
names. This reader therefore first scans each pickle and refuses any opcode
outside :data:`ALLOWED_OPCODES`, then resolves only the handful of names a state
dict of tensors needs (:data:`ALLOWED_GLOBALS`) to stand-ins made afresh for each
load, which refuse to have their state changed (``BUILD``); anything else raises
:class:`UnsafePickleError` before it runs. Every tensor's size, stride and offset
is checked against its storage before any array is made
(:class:`TorchFormatError` otherwise), so a tiny file cannot claim a huge array.

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
import io
import math
import os
import pickle
import pickletools
import reprlib
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional, Union

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

ALLOWED_OPCODES: frozenset[str] = frozenset(
    {"PROTO", "STOP", "MARK", "BINPUT", "LONG_BINPUT", "BINGET", "LONG_BINGET"}
    | {"NONE", "NEWTRUE", "NEWFALSE", "BININT", "BININT1", "BININT2", "LONG1", "BINFLOAT", "BINUNICODE"}
    | {"EMPTY_TUPLE", "TUPLE1", "TUPLE2", "TUPLE3", "TUPLE", "EMPTY_LIST", "APPEND", "APPENDS"}
    | {"EMPTY_DICT", "SETITEM", "SETITEMS", "GLOBAL", "REDUCE", "BUILD", "BINPERSID"}
)
"""The pickle opcodes (protocol 2, as ``torch.save`` writes) a file may use.

Refused, among others: ``STACK_GLOBAL``, ``INST``, ``OBJ``, ``NEWOBJ``, ``NEWOBJ_EX``,
``EXT1``/``EXT2``/``EXT4`` (which the C unpickler may resolve from ``copyreg``'s
cache without asking :data:`ALLOWED_GLOBALS`) and the text-form ``PERSID``.
"""

# Absurd-size caps, checked even for empty tensors: no real tensor comes near them; NumPy fails beyond them.
_MAX_DIMS = 32
_MAX_ELEMENTS = 2**48

PathLike = Union[str, os.PathLike]


class TorchFormatError(ValueError):
    """The file is not a legacy ``torch.save`` state dict this reader can decode."""


class UnsafePickleError(pickle.UnpicklingError):
    """The pickle asked for more than a plain state dict needs; nothing it named has run.

    That is: a global outside :data:`ALLOWED_GLOBALS`, an opcode outside
    :data:`ALLOWED_OPCODES`, or a change (``BUILD``) to an object this reader made.

    Attributes:
        refused: what was refused, e.g. ``"posix.system"``, ``"INST"``, ``"torch.FloatStorage"``.
    """

    def __init__(self, refused: str, problem: str):
        self.refused = refused
        super().__init__(
            f"refused {problem}. The file may be malicious or not a plain state dict; "
            "do not load it with torch.load either."
        )


class _Sealed:
    """Base of every object this reader hands a pickle: ``BUILD`` on one is refused."""

    __slots__ = ()

    def __setstate__(self, state: Any) -> None:
        raise UnsafePickleError(repr(self), f"to change the state of {self!r} (pickle BUILD)")


@dataclass(frozen=True, repr=False)
class _StandIn(_Sealed):
    """What an allowed global resolves to; a new one for every lookup, so no load sees another's."""

    name: str
    function: Optional[Callable[..., Any]] = None
    dtype: Optional[np.dtype] = None

    def __call__(self, *args: Any) -> Any:
        if self.function is None:
            raise TorchFormatError(f"the pickle calls {self.name}, which a state dict never calls")
        return self.function(*args)

    def __repr__(self) -> str:
        return self.name


@dataclass(frozen=True)
class _StorageRef(_Sealed):
    key: str
    dtype: np.dtype
    numel: int


@dataclass(frozen=True)
class _TensorRef(_Sealed):
    """A tensor as pickled; its layout is checked by :func:`_layout_problem` before use."""

    storage: _StorageRef
    offset: Any
    shape: Any
    stride: Any


def _rebuild_tensor_v2(storage: Any, storage_offset: Any, size: Any, stride: Any, *_hooks: Any) -> _TensorRef:
    if not isinstance(storage, _StorageRef):
        raise TorchFormatError(f"a tensor points at {reprlib.repr(storage)}, not at a storage")
    return _TensorRef(storage, storage_offset, size, stride)


_FUNCTIONS: dict[tuple[str, str], Callable[..., Any]] = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
}

ALLOWED_GLOBALS: frozenset[tuple[str, str]] = frozenset(_FUNCTIONS) | {("torch", name) for name in STORAGE_DTYPES}
"""The only ``(module, name)`` pairs a file may refer to; anything else is refused.

The two callables are what ``torch.save`` writes for a state dict; the storage
classes only name a dtype (nothing of theirs is ever called).
"""


class _RestrictedUnpickler(pickle.Unpickler):
    """Resolves only :data:`ALLOWED_GLOBALS`, to fresh stand-ins; storages become :class:`_StorageRef`."""

    def find_class(self, module: str, name: str) -> _StandIn:
        if (module, name) not in ALLOWED_GLOBALS:
            allowed = sorted(".".join(pair) for pair in ALLOWED_GLOBALS)
            refused = f"{module}.{name}"
            raise UnsafePickleError(refused, f"to load global {refused!r}: a PyTorch state dict only needs {allowed}")
        if module == "torch":
            return _StandIn(f"torch.{name}", dtype=STORAGE_DTYPES[name])
        return _StandIn(f"{module}.{name}", function=_FUNCTIONS[(module, name)])

    def persistent_load(self, pid: Any) -> _StorageRef:
        if not (type(pid) is tuple and len(pid) == 6 and pid[0] == "storage"):
            raise TorchFormatError(
                f"unexpected persistent id {reprlib.repr(pid)}; torch.save writes "
                "('storage', StorageType, key, location, numel, None)"
            )
        _, storage_type, key, location, numel, view_metadata = pid
        if type(key) is not str or type(location) is not str:
            raise TorchFormatError(f"storage key {key!r} and location {location!r} must be strings")
        if not (isinstance(storage_type, _StandIn) and storage_type.dtype is not None):
            raise TorchFormatError(f"storage {key!r} has type {storage_type!r}, not one of {sorted(STORAGE_DTYPES)}")
        if type(numel) is not int or numel < 0:
            raise TorchFormatError(f"storage {key!r} declares {numel!r} elements, not a count")
        if view_metadata is not None:
            raise TorchFormatError(f"storage {key!r} is a storage view (PyTorch < 0.4); re-save the file")
        return _StorageRef(key, storage_type.dtype, numel)


def _load_pickle(stream: io.BytesIO) -> Any:
    start = stream.tell()
    try:
        for opcode, arg, position in pickletools.genops(stream):
            if opcode.name not in ALLOWED_OPCODES:
                raise UnsafePickleError(
                    opcode.name, f"pickle opcode {opcode.name} at byte {position}: torch.save never writes it"
                )
            # A memo index beyond the bytes read so far is corrupt, and the unpickler would allocate a memo that large.
            if opcode.name in ("BINPUT", "LONG_BINPUT") and arg > position:
                raise TorchFormatError(f"corrupt pickle: memo index {arg} at byte {position} is beyond any object")
        stream.seek(start)
        return _RestrictedUnpickler(stream).load()
    except (UnsafePickleError, TorchFormatError):
        raise
    except (pickle.UnpicklingError, EOFError, TypeError, ValueError, AttributeError, IndexError) as err:
        raise TorchFormatError(f"corrupt pickle in the file: {err}") from err


def load_legacy_state_dict(path: PathLike) -> dict[str, np.ndarray]:
    """Read a legacy-format ``torch.save`` state dict into ``{name: numpy array}``.

    Tensors keep their shape and dtype (PyTorch layout, e.g. conv kernels
    ``(out, in, kh, kw)``); strides and storage offsets are honoured and every
    array is a fresh, C-contiguous, writeable copy.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        UnsafePickleError: the file uses a pickle opcode outside :data:`ALLOWED_OPCODES`, names a
            global outside :data:`ALLOWED_GLOBALS`, or tries to change a stand-in (nothing has run).
        TorchFormatError: not a legacy file (e.g. the newer zip format), truncated or corrupt,
            or a tensor whose size, stride or offset does not fit its storage.

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
    return _read(path.read_bytes(), source=str(path))


def _read(data: bytes, source: str) -> dict[str, np.ndarray]:
    stream = io.BytesIO(data)
    magic = _load_pickle(stream)
    if magic != MAGIC_NUMBER:
        raise TorchFormatError(f"{source} is not a legacy torch.save file (wrong magic number)")
    version = _load_pickle(stream)
    if version != PROTOCOL_VERSION:
        raise TorchFormatError(f"{source}: unsupported torch.save protocol version {version!r}")
    sys_info = _load_pickle(stream)
    byte_order = "<" if not isinstance(sys_info, dict) or sys_info.get("little_endian", True) else ">"
    obj = _load_pickle(stream)
    if not isinstance(obj, dict) or not all(type(k) is str and isinstance(v, _TensorRef) for k, v in obj.items()):
        raise TorchFormatError(f"{source} does not hold a state dict of named tensors (found {type(obj).__name__})")
    for name, ref in obj.items():
        _check_layout(name, ref, source)
    keys = _load_pickle(stream)
    if not (isinstance(keys, list) and all(type(k) is str for k in keys) and len(set(keys)) == len(keys)):
        raise TorchFormatError(f"{source}: the storage key list is missing or malformed")
    storages = _read_storages(data, stream.tell(), keys, _storage_refs(obj), byte_order, source)
    return {name: _materialize(ref, storages[ref.storage.key]) for name, ref in obj.items()}


def _storage_refs(obj: dict[str, _TensorRef]) -> dict[str, _StorageRef]:
    refs: dict[str, _StorageRef] = {}
    for tensor in obj.values():
        known = refs.setdefault(tensor.storage.key, tensor.storage)
        if known != tensor.storage:
            raise TorchFormatError(f"storage {known.key!r} is declared with two dtypes or sizes")
    return refs


def _read_storages(
    data: bytes, position: int, keys: list[str], refs: dict[str, _StorageRef], byte_order: str, source: str
) -> dict[str, np.ndarray]:
    """Views (no copies) onto ``data`` of each storage, checked against the bytes present."""
    missing = set(refs) - set(keys)
    if missing:
        raise TorchFormatError(f"{source}: storages {sorted(missing)[:3]} are used but not stored")
    storages: dict[str, np.ndarray] = {}
    for key in keys:
        if key not in refs:
            raise TorchFormatError(f"{source}: storage {key!r} is stored but no tensor uses it")
        ref = refs[key]
        header = data[position : position + 8]
        if len(header) != 8:
            raise TorchFormatError(f"{source} is truncated (storage {key!r} is missing)")
        numel = int.from_bytes(header, "little" if byte_order == "<" else "big", signed=True)
        if numel != ref.numel:
            raise TorchFormatError(f"{source}: storage {key!r} holds {numel} elements, expected {ref.numel}")
        position += 8
        dtype = ref.dtype.newbyteorder(byte_order)
        if numel * dtype.itemsize > len(data) - position:
            raise TorchFormatError(
                f"{source} is truncated: storage {key!r} needs {numel * dtype.itemsize} bytes, "
                f"only {len(data) - position} remain; re-download or re-save the file"
            )
        storages[key] = np.frombuffer(data, dtype=dtype, count=numel, offset=position)
        position += numel * dtype.itemsize
    if position != len(data):
        raise TorchFormatError(f"{source} has trailing bytes after its last storage")
    return storages


def _is_int_tuple(value: Any) -> bool:
    return type(value) is tuple and all(type(n) is int for n in value)


def _layout_problem(ref: _TensorRef) -> Optional[str]:
    """Why ``ref``'s size, stride and offset do not fit its storage, or None when they do."""
    shape, stride, offset, numel = ref.shape, ref.stride, ref.offset, ref.storage.numel
    if not (_is_int_tuple(shape) and _is_int_tuple(stride) and type(offset) is int):
        return "has a size or stride that is not a tuple of integers, or an offset that is not an integer"
    if len(shape) != len(stride):
        return f"has {len(shape)} sizes but {len(stride)} strides"
    if min(shape + stride + (offset,)) < 0:
        return "has a negative size, stride or offset"
    if len(shape) > _MAX_DIMS or math.prod(max(n, 1) for n in shape) > _MAX_ELEMENTS:
        return f"has an absurd size (over {_MAX_DIMS} dimensions or {_MAX_ELEMENTS} elements)"
    if offset > numel:
        return "starts past the end of its storage"
    size = math.prod(shape)
    if size == 0:
        return None
    if any(s == 0 and n > 1 for n, s in zip(shape, stride)):
        return "has stride 0 on a dimension of size > 1 (an expanded tensor; save tensor.contiguous() instead)"
    if size > numel:
        return f"has {size} elements, more than the {numel} its storage holds"
    last = offset + sum((n - 1) * s for n, s in zip(shape, stride))
    if last >= numel:
        return f"reaches element {last}, past the end of its storage"
    return None


def _check_layout(name: str, ref: _TensorRef, source: str) -> None:
    problem = _layout_problem(ref)
    if problem is not None:
        raise TorchFormatError(
            f"{source}: tensor {name!r} {problem}: size {reprlib.repr(ref.shape)}, stride "
            f"{reprlib.repr(ref.stride)}, offset {reprlib.repr(ref.offset)} in storage {ref.storage.key!r} "
            f"of {ref.storage.numel} elements. The file is corrupt or crafted; re-save it from PyTorch."
        )


def _materialize(ref: _TensorRef, storage: np.ndarray) -> np.ndarray:
    """A fresh C-contiguous copy of the tensor; its layout has passed :func:`_check_layout`."""
    if math.prod(ref.shape) == 0:
        return np.zeros(ref.shape, dtype=ref.storage.dtype)
    view = np.lib.stride_tricks.as_strided(
        storage[ref.offset :],
        shape=ref.shape,
        strides=tuple(s * storage.itemsize if n > 1 else 0 for n, s in zip(ref.shape, ref.stride)),
        writeable=False,
    )
    return np.array(view, dtype=ref.storage.dtype, order="C")
