"""Small models, data and callbacks for the training tests (also imported by their subprocesses)."""
import keras
import numpy as np

from daylib.data.phantom import make_phantom


def tiny_base(size: int = 32) -> keras.Model:
    """A two-block conv base with BatchNormalization: quick to train, same structure as a real one."""
    inputs = keras.Input((size, size, 3))
    x = keras.layers.Rescaling(1 / 127.5, offset=-1.0)(inputs)
    x = keras.layers.Conv2D(8, 3, strides=2, padding="same", name="conv1")(x)
    x = keras.layers.BatchNormalization(name="bn1")(x)
    x = keras.layers.ReLU(name="relu1")(x)
    x = keras.layers.Conv2D(16, 3, strides=2, padding="same", name="conv2")(x)
    x = keras.layers.BatchNormalization(name="bn2")(x)
    x = keras.layers.ReLU(name="top")(x)
    return keras.Model(inputs, x, name="tiny_base")


def make_model(augmentation=None) -> keras.Model:
    """A binary classifier on the tiny base (one sigmoid unit)."""
    from daylib.models import build_classifier

    return build_classifier(tiny_base(), 2, augmentation=augmentation)


def phantom_data(size: int = 32):
    """32 training and 16 validation phantom X-rays, RGB 0-255."""
    phantoms = make_phantom(48, size=size, difficulty="easy", seed=0)
    images = np.repeat(phantoms.images[..., None], 3, axis=-1)
    return (images[:32], phantoms.labels[:32]), (images[32:], phantoms.labels[32:])


FAULT_SETTINGS = dict(head_epochs=2, fine_tune_epochs=3, top_n=3, head_learning_rate=0.05,
                      fine_tune_learning_rate=1e-3, patience=None, verbose=0)
"""The run the fault tests interrupt: 2 cached head epochs, then fine-tuning epochs 2, 3, 4."""


class EpochStarts(keras.callbacks.Callback):
    """Records the index of every epoch that begins."""

    def __init__(self):
        super().__init__()
        self.epochs = []

    def on_epoch_begin(self, epoch, logs=None):
        self.epochs.append(epoch)


class InterruptAfter(keras.callbacks.Callback):
    """Simulates Ctrl-C after a given epoch has finished (and its state was saved)."""

    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        if epoch == self.epoch:
            raise KeyboardInterrupt


def fault_run(run_dir, callbacks=()):
    """The training call the fault tests repeat: ``train_classifier`` of a fresh tiny model."""
    from daylib.training import train_classifier

    train, val = phantom_data()
    return train_classifier(make_model, train, val, run_dir=run_dir, callbacks=list(callbacks), **FAULT_SETTINGS)


def summary(history, starts=None) -> dict:
    """What a fault test compares: epochs, best epochs, validation scores and predictions of the final model."""
    _, (x_val, y_val) = phantom_data()
    scores = history.model.evaluate(x_val, y_val, verbose=0, return_dict=True)
    return {
        "epoch": history.epoch, "fine_tune_epoch": history.fine_tune_epoch, "best": history.best_epochs,
        "val_loss": history.history["val_loss"], "loss": history.history["loss"], "eval_loss": scores["loss"],
        "predictions": history.model.predict(x_val, verbose=0).ravel().tolist(),
        "starts": None if starts is None else starts.epochs,
    }
