"""The NumPy reader of legacy torch.save files: layout, strides, offsets, and refusal of unsafe pickles."""
import os
import pickle
import zipfile

import numpy as np
import pytest
from _helpers_torch_legacy import SYS_INFO, Storage, Tensor, header_bytes, legacy_bytes, write_legacy

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
