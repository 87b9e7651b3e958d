"""The NumPy reader of legacy torch.save files: layout, strides, offsets, and refusal of unsafe pickles."""
import copyreg
import os
import pickle
import re
import zipfile

import numpy as np
import pytest
from _helpers_torch_legacy import (
    SYS_INFO,
    FloatStorage,
    Storage,
    Tensor,
    _rebuild_tensor_v2,
    binunicode,
    header_bytes,
    legacy_bytes,
    write_legacy,
)

from daylib.models.efficientnet_lite import weights_file
from daylib.models.torch_legacy import TorchFormatError, UnsafePickleError, load_legacy_state_dict


@pytest.fixture()
def small_state():
    floats = Storage("140001", np.arange(6, dtype=np.float32))
    return {
        "transposed": Tensor(floats, 0, (3, 2), (1, 3)),
        "offset_every_other": Tensor(floats, 2, (2,), (2,)),
        "half": Tensor(Storage("140002", np.array([0.5, -2.0], np.float16)), 0, (2,), (1,)),
        "num_batches_tracked": Tensor(Storage("140003", np.array([7], np.int64)), 0, (), ()),
    }


def test_reads_views_offsets_and_dtypes(tmp_path, small_state):
    state = load_legacy_state_dict(write_legacy(tmp_path / "small.pth", small_state))
    assert list(state) == list(small_state)
    np.testing.assert_array_equal(state["transposed"], np.array([[0, 3], [1, 4], [2, 5]], np.float32))
    np.testing.assert_array_equal(state["offset_every_other"], np.array([2, 4], np.float32))
    np.testing.assert_array_equal(state["half"], np.array([0.5, -2.0], np.float16))
    assert state["num_batches_tracked"].shape == () and state["num_batches_tracked"] == 7
    assert [a.dtype for a in state.values()] == [np.float32, np.float32, np.float16, np.int64]
    assert all(a.flags.c_contiguous and a.flags.writeable for a in state.values())
    assert not np.shares_memory(state["transposed"], state["offset_every_other"])


def test_reads_the_bundled_efficientnet_lite0_file():
    state = load_legacy_state_dict(weights_file())
    assert len(state) == 296
    assert state["_conv_stem.weight"].shape == (32, 3, 3, 3)
    assert state["_blocks.15._depthwise_conv.weight"].shape == (1152, 1, 3, 3)
    assert state["_fc.weight"].shape == (1000, 1280) and state["_fc.weight"].dtype == np.float32
    learned = [a for k, a in state.items() if not k.endswith(("running_mean", "running_var", "num_batches_tracked"))]
    assert sum(a.size for a in learned) == 4_652_008  # EfficientNet-Lite0's published 4.65M parameters
    variances = np.concatenate([a for k, a in state.items() if k.endswith("running_var")])
    assert np.all(variances >= 0) and np.isfinite(variances).all() and np.median(variances) > 0.1


class _RunsShell:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.mark.parametrize("where", ["state dict", "system info"])
def test_refuses_a_pickle_that_asks_for_another_global_and_runs_nothing(tmp_path, small_state, where):
    marker = tmp_path / "executed"
    evil = _RunsShell(marker)
    if where == "state dict":
        data = legacy_bytes({**small_state, "evil": evil})
    else:
        data = legacy_bytes(small_state, sys_info={**SYS_INFO, "evil": evil})
    path = tmp_path / "evil.pth"
    path.write_bytes(data)
    refused = f"{os.system.__module__}.system"  # 'posix.system' on Linux
    with pytest.raises(pickle.UnpicklingError, match=rf"refused to load global '{refused}'") as err:
        load_legacy_state_dict(path)
    assert isinstance(err.value, UnsafePickleError) and err.value.refused == refused
    assert not marker.exists()


def test_allows_exact_names_not_whole_modules(tmp_path):
    path = tmp_path / "torch_load.pth"
    path.write_bytes(header_bytes() + b"\x80\x02ctorch\nload\n)R.")  # torch.load(), a name in an allowed module
    with pytest.raises(UnsafePickleError, match="'torch.load'"):
        load_legacy_state_dict(path)


def test_rejects_files_it_cannot_decode(tmp_path, small_state):
    good = legacy_bytes(small_state)
    (tmp_path / "truncated.pth").write_bytes(good[:-3])
    with pytest.raises(TorchFormatError, match="truncated"):
        load_legacy_state_dict(tmp_path / "truncated.pth")
    (tmp_path / "not_torch.pth").write_bytes(pickle.dumps(12345, protocol=2) + good)
    with pytest.raises(TorchFormatError, match="wrong magic number"):
        load_legacy_state_dict(tmp_path / "not_torch.pth")
    with zipfile.ZipFile(tmp_path / "new_format.pth", "w") as archive:
        archive.writestr("archive/data.pkl", b"")
    with pytest.raises(TorchFormatError, match="zip format"):
        load_legacy_state_dict(tmp_path / "new_format.pth")
    with pytest.raises(FileNotFoundError, match="no PyTorch weights file"):
        load_legacy_state_dict(tmp_path / "missing.pth")


def test_reads_legal_odd_layouts(tmp_path):
    floats = Storage("1", np.arange(6, dtype=np.float32))
    state = {
        "row_with_zero_stride": Tensor(floats, 2, (1, 3), (0, 1)),  # stride 0 on a size-1 dimension is legal
        "column_with_huge_stride": Tensor(floats, 0, (3, 1), (2, 2**70)),  # so is any stride there
        "empty_at_the_end": Tensor(floats, 6, (0, 128), (128, 1)),
        "empty_storage": Tensor(Storage("2", np.zeros(0, np.float32)), 0, (0,), (1,)),
    }
    loaded = load_legacy_state_dict(write_legacy(tmp_path / "odd.pth", state))
    np.testing.assert_array_equal(loaded["row_with_zero_stride"], [[2, 3, 4]])
    np.testing.assert_array_equal(loaded["column_with_huge_stride"], [[0], [2], [4]])
    assert loaded["empty_at_the_end"].shape == (0, 128) and loaded["empty_storage"].shape == (0,)
    assert all(a.base is None and a.flags.writeable for a in loaded.values())  # copies, not views of the file


# --- one refused case per pickle opcode family -------------------------------------------------------------


def _object_file(tmp_path, obj_pickle: bytes):
    path = tmp_path / "crafted.pth"
    path.write_bytes(header_bytes() + obj_pickle)
    return path


ECHO = binunicode("echo")


@pytest.mark.parametrize(
    "opcode, obj_pickle",
    [
        ("STACK_GLOBAL", b"\x80\x02" + binunicode("os") + binunicode("system") + b"\x93" + ECHO + b"\x85R."),
        ("STACK_GLOBAL", b"\x80\x02" + binunicode("collections") + binunicode("OrderedDict") + b"\x93)R."),
        ("INST", b"\x80\x02(" + ECHO + b"ios\nsystem\n."),
        ("OBJ", b"\x80\x02(ccollections\nOrderedDict\no."),
        ("NEWOBJ", b"\x80\x02ccollections\nOrderedDict\n)\x81."),
        ("NEWOBJ_EX", b"\x80\x02ccollections\nOrderedDict\n)}\x92."),
        ("PERSID", b"\x80\x02P1\n."),
    ],
    ids=["STACK_GLOBAL-os.system", "STACK_GLOBAL-OrderedDict", "INST", "OBJ", "NEWOBJ", "NEWOBJ_EX", "PERSID"],
)
def test_refuses_opcodes_torch_save_never_writes(tmp_path, opcode, obj_pickle):
    with pytest.raises(UnsafePickleError, match=rf"refused pickle opcode {opcode} at byte \d+") as err:
        load_legacy_state_dict(_object_file(tmp_path, obj_pickle))
    assert err.value.refused == opcode


@pytest.mark.parametrize("opcode, code, size", [("EXT1", 0xF0, 1), ("EXT2", 0xBEEF, 2), ("EXT4", 0x12345678, 4)])
def test_refuses_extension_codes_even_when_copyreg_resolves_them(tmp_path, opcode, code, size):
    marker = tmp_path / "executed"
    ext = bytes([pickle.__dict__[opcode][0]]) + code.to_bytes(size, "little")
    copyreg.add_extension("os", "system", code)
    try:  # an ordinary unpickle caches the code, after which the C unpickler no longer asks find_class
        assert pickle.loads(b"\x80\x02" + ext + b".") is os.system
        obj_pickle = b"\x80\x02" + ext + binunicode(f"touch {marker}") + b"\x85R."
        with pytest.raises(UnsafePickleError, match=rf"opcode {opcode}"):
            load_legacy_state_dict(_object_file(tmp_path, obj_pickle))
    finally:
        copyreg.remove_extension("os", "system", code)
    assert not marker.exists()


@pytest.mark.parametrize(
    "global_name", ["torch._utils._rebuild_parameter", "torch.ComplexFloatStorage", "builtins.getattr"]
)
def test_refuses_globals_outside_the_minimal_list(tmp_path, global_name):
    module, name = global_name.rsplit(".", 1)
    with pytest.raises(UnsafePickleError, match=rf"refused to load global '{global_name}'"):
        load_legacy_state_dict(_object_file(tmp_path, b"\x80\x02" + f"c{module}\n{name}\n)R.".encode()))


@pytest.mark.parametrize(
    "obj_pickle, message",
    [
        (b"\x80\x02" + ECHO + b")R.", "'str' object is not callable"),
        (b"\x80\x02ctorch\nFloatStorage\n)R.", "the pickle calls torch.FloatStorage, which a state dict never calls"),
        (b"\x80\x02ctorch._utils\n_rebuild_tensor_v2\n(" + ECHO + b"K\x00))tR.", "a tensor points at 'echo'"),
    ],
    ids=["a_string", "a_storage_type", "rebuild_tensor_on_a_string"],
)
def test_refuses_reduce_on_anything_but_the_allowed_functions(tmp_path, obj_pickle, message):
    with pytest.raises(TorchFormatError, match=message):
        load_legacy_state_dict(_object_file(tmp_path, obj_pickle))


def _storage_ref_pickle() -> bytes:
    pid = b"(" + binunicode("storage") + b"ctorch\nFloatStorage\n" + binunicode("1") + binunicode("cpu")
    return pid + b"K\x06Nt" + b"Q"


@pytest.mark.parametrize(
    "target, target_pickle",
    [
        ("torch.FloatStorage", b"ctorch\nFloatStorage\n"),  # would make every later float tensor lose its dtype
        ("collections.OrderedDict", b"ccollections\nOrderedDict\n"),
        ("torch._utils._rebuild_tensor_v2", b"ctorch._utils\n_rebuild_tensor_v2\n"),
        ("_StorageRef", _storage_ref_pickle()),
    ],
    ids=["storage_type", "OrderedDict", "rebuild_tensor", "storage"],
)
@pytest.mark.parametrize("slot_state", [False, True], ids=["dict_state", "slot_state"])
def test_refuses_build_on_what_the_reader_made_and_later_loads_still_work(
    tmp_path, small_state, target, target_pickle, slot_state
):
    state = b"}" + binunicode("dtype") + binunicode("garbage") + b"s"
    if slot_state:  # BUILD with (None, {...}) sets attributes with setattr
        state = b"N" + state + b"\x86"
    with pytest.raises(UnsafePickleError, match=r"refused to change the state of .* \(pickle BUILD\)") as err:
        load_legacy_state_dict(_object_file(tmp_path, b"\x80\x02" + target_pickle + state + b"b."))
    assert target in err.value.refused
    loaded = load_legacy_state_dict(write_legacy(tmp_path / "small.pth", small_state))
    np.testing.assert_array_equal(loaded["offset_every_other"], np.array([2, 4], np.float32))


def test_refuses_a_memo_index_it_would_have_to_allocate(tmp_path):
    with pytest.raises(TorchFormatError, match="memo index 1852795251"):
        load_legacy_state_dict(_object_file(tmp_path, b"\x80\x02Nr" + (1852795251).to_bytes(4, "little") + b"."))


@pytest.mark.parametrize(
    "pid, message",
    [
        ("storage-1", "unexpected persistent id 'storage-1'"),
        (("storage", FloatStorage, "1", "cpu", 6), "unexpected persistent id"),  # the 5-tuple form
        (("module", FloatStorage, "1", "cpu", 6, None), "unexpected persistent id"),
        (("storage", "FloatStorage", "1", "cpu", 6, None), "has type 'FloatStorage', not one of"),
        (("storage", _rebuild_tensor_v2, "1", "cpu", 6, None), "has type torch._utils._rebuild_tensor_v2, not one"),
        (("storage", FloatStorage, 1, "cpu", 6, None), "storage key 1 and location 'cpu' must be strings"),
        (("storage", FloatStorage, "1", "cpu", 6.0, None), "storage '1' declares 6.0 elements"),
        (("storage", FloatStorage, "1", "cpu", -6, None), "storage '1' declares -6 elements"),
        (("storage", FloatStorage, "1", "cpu", 6, ("1", 0, 6)), "is a storage view"),
    ],
)
def test_refuses_malformed_persistent_ids(tmp_path, pid, message):
    tensor = Tensor(Storage("1", np.arange(6, dtype=np.float32), pid=pid), 0, (6,), (1,))
    with pytest.raises(TorchFormatError, match=re.escape(message)):
        load_legacy_state_dict(write_legacy(tmp_path / "pid.pth", {"w": tensor}))


# --- layouts that do not fit their storage, refused before any array is made ------------------------------


@pytest.fixture()
def no_arrays(monkeypatch):
    """Fails the test if the reader gets as far as making an array."""

    def refuse(*args, **kwargs):
        raise AssertionError("the reader made an array before refusing the layout")

    monkeypatch.setattr(np.lib.stride_tricks, "as_strided", refuse)
    monkeypatch.setattr(np, "zeros", refuse)
    monkeypatch.setattr(np, "frombuffer", refuse)


@pytest.mark.parametrize(
    "offset, shape, stride, message",
    [
        (0, (4,), (0,), "has stride 0 on a dimension of size > 1"),
        (5, (3,), (-1,), "negative size, stride or offset"),
        (0, (-1,), (1,), "negative size, stride or offset"),
        (-1, (2,), (1,), "negative size, stride or offset"),
        (0, (-2, -3), (1, 1), "negative size, stride or offset"),  # 6 elements, as many as the storage holds
        (4, (3,), (1,), "reaches element 6, past the end of its storage"),
        (0, (2, 3), (4, 1), "reaches element 6, past the end of its storage"),
        (0, (3, 3), (1, 1), "has 9 elements, more than the 6 its storage holds"),  # overlapping rows
        (7, (0,), (1,), "starts past the end of its storage"),
        (0, (2, 3), (1,), "has 2 sizes but 1 strides"),
        (0, (2.0,), (1,), "not a tuple of integers"),
        (0, [2], [1], "not a tuple of integers"),
        (0, (2,), (True,), "not a tuple of integers"),
        ("0", (2,), (1,), "an offset that is not an integer"),
        (0, (0, 2**62, 2**62), (1, 1, 1), "absurd size"),
        (0, (1,) * 33, (1,) * 33, "absurd size"),
    ],
)
def test_refuses_layouts_that_do_not_fit_their_storage(tmp_path, no_arrays, offset, shape, stride, message):
    tensor = Tensor(Storage("1", np.arange(6, dtype=np.float32)), offset, shape, stride)
    with pytest.raises(TorchFormatError, match=r"tensor 'w' .*" + re.escape(message)):
        load_legacy_state_dict(write_legacy(tmp_path / "layout.pth", {"w": tensor}))


def test_refuses_a_tiny_file_claiming_a_2_gib_array(tmp_path, no_arrays):
    one_float = Storage("94", np.array([0.0], np.float32))
    path = write_legacy(tmp_path / "bomb.pth", {"weight": Tensor(one_float, 0, (2**29,), (0,))})
    assert path.stat().st_size < 400  # 2**29 float32 = 2 GiB from a few hundred bytes
    with pytest.raises(TorchFormatError, match=r"tensor 'weight' has stride 0 on a dimension of size > 1"):
        load_legacy_state_dict(path)


def test_refuses_a_storage_larger_than_the_bytes_left(tmp_path, monkeypatch):
    monkeypatch.setattr(np, "frombuffer", pytest.fail)
    huge = Storage("1", np.arange(6, dtype=np.float32), numel=2**60)
    with pytest.raises(TorchFormatError, match=r"truncated: storage '1' needs \d+ bytes, only 24 remain"):
        load_legacy_state_dict(write_legacy(tmp_path / "huge.pth", {"w": Tensor(huge, 0, (6,), (1,))}))


def test_refuses_storage_headers_and_key_lists_that_disagree_with_the_pickle(tmp_path, small_state):
    floats = np.arange(6, dtype=np.float32)
    pid = ("storage", FloatStorage, "1", "cpu", 5, None)  # the header will say 6
    path = write_legacy(tmp_path / "header.pth", {"w": Tensor(Storage("1", floats, pid=pid), 0, (5,), (1,))})
    with pytest.raises(TorchFormatError, match="storage '1' holds 6 elements, expected 5"):
        load_legacy_state_dict(path)
    for keys in ([["140001"]], ["140001", "140001", "140002", "140003"], "140001"):
        (tmp_path / "keys.pth").write_bytes(legacy_bytes(small_state, keys=keys))
        with pytest.raises(TorchFormatError, match="storage key list is missing or malformed"):
            load_legacy_state_dict(tmp_path / "keys.pth")
    (tmp_path / "trailing.pth").write_bytes(legacy_bytes(small_state) + b"\x00")
    with pytest.raises(TorchFormatError, match="trailing bytes"):
        load_legacy_state_dict(tmp_path / "trailing.pth")
