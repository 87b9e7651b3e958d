"""Importing daylib keeps TensorFlow's CPU start-up noise out, and real errors in."""
import subprocess
import sys

from daylib._quiet import NOISE


def _stderr_of(code: str) -> str:
    env = {"PATH": "/usr/bin:/bin", "HOME": "/tmp"}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120).stderr


def test_import_prints_no_cuda_or_onednn_noise():
    err = _stderr_of("import daylib, tensorflow as tf; tf.constant(1.0) + 1")
    assert not [line for line in err.splitlines() if NOISE.search(line)], err


def test_real_errors_during_import_still_reach_stderr():
    err = _stderr_of(
        "import os, sys\n"
        "class Loud:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'tensorflow': os.write(2, b'E0000 something real broke\\n')\n"
        "sys.meta_path.insert(0, Loud())\n"
        "import daylib\n"
    )
    assert "something real broke" in err


def test_noise_pattern_matches_the_known_lines_only():
    assert NOISE.search("I0000 cudart_stub.cc:31] Could not find cuda drivers on your machine, GPU will not be used.")
    assert NOISE.search("E0000 cuda_platform.cc:52] failed call to cuInit: INTERNAL: CUDA error")
    assert not NOISE.search("E0000 op_kernel.cc] OOM when allocating tensor")
