"""daylib: the helper package behind the transfer-learning and Grad-CAM course.

Importing it selects Keras's TensorFlow backend and imports TensorFlow with its
CPU-machine start-up noise filtered out (see :mod:`daylib._quiet`): warnings
and errors still print, only the known CUDA/oneDNN INFO chatter is dropped.
"""
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")

from daylib._quiet import import_tensorflow_quietly  # noqa: E402

import_tensorflow_quietly()

__version__ = "0.1.0"

# daylib's own Keras layers register themselves when their module is imported; importing it here means a saved
# course model reloads with keras.models.load_model("x.keras") after `import daylib`, with no custom_objects.
from daylib.models import preprocessing as _preprocessing  # noqa: E402,F401
