"""Import TensorFlow without its CPU-machine start-up noise, and nothing more.

The ``tensorflow`` wheel prints INFO/ERROR lines from its CUDA stubs on every
machine without a GPU ("Could not find cuda drivers", "failed call to cuInit",
"oneDNN custom operations are on", ...). They are written by C++ straight to
file descriptor 2, before ``TF_CPP_MIN_LOG_LEVEL`` takes effect, so Jupyter
shows them in red in every notebook. :func:`import_tensorflow_quietly` captures
fd 2 while TensorFlow is imported and its devices are listed, drops the lines
that match :data:`NOISE`, and writes every other line back to stderr: a real
error still shows.
"""
from __future__ import annotations

import os
import re
import sys
import tempfile

NOISE = re.compile(
    r"oneDNN custom operations are on"
    r"|Could not find cuda drivers"
    r"|failed call to cuInit"
    r"|Unable to register cu(DNN|FFT|BLAS) factory"
    r"|All log messages before absl::InitializeLog\(\) is called"
    r"|computation placer already registered"
    r"|This TensorFlow binary is optimized to use available CPU instructions"
    r"|To enable the following instructions:.*rebuild TensorFlow"
    r"|TF-TRT Warning: Could not find TensorRT"
    r"|Skipping registering GPU devices"
    r"|Cannot dlopen some GPU libraries"
)


def import_tensorflow_quietly() -> None:
    """Import TensorFlow and list its devices with known start-up noise filtered out.

    Example:
        >>> import_tensorflow_quietly()
        >>> import tensorflow as tf  # already imported, prints nothing
    """
    if "tensorflow" in sys.modules:
        return
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile(mode="w+b") as captured:
        os.dup2(captured.fileno(), 2)
        try:
            import tensorflow as tf

            tf.config.list_physical_devices()
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            kept = [line for line in captured.read().decode(errors="replace").splitlines() if not NOISE.search(line)]
            if kept:
                sys.stderr.write("\n".join(kept) + "\n")
