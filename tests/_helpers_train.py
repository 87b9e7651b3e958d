"""Small models and data for the training tests (also imported by their subprocess)."""
import keras


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
