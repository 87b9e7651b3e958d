"""The readers of learners' answers: the right kinds pass through, the wrong ones get a message, not a traceback."""
import keras
import numpy as np
import pytest

from daylib.exercises import answers
from daylib.exercises.core import Exercise, correct


def test_numbers_whole_numbers_and_flags():
    assert answers.number(np.float32(0.5), "energy") == 0.5
    assert answers.number(np.array([[0.25]]), "peak") == 0.25
    assert answers.whole(np.int64(47), "n") == 47 and answers.flag(np.bool_(True), "beats") is True
    for bad, match in (("0.25", "must be a number"), (np.array([1.0, 2.0]), "must be a number"),
                       (float("nan"), "finite"), (True, "must be a number")):
        with pytest.raises(ValueError, match=match):
            answers.number(bad, "peak")
    with pytest.raises(ValueError, match="whole number of at least 0"):
        answers.whole(2.0, "n")
    with pytest.raises(ValueError, match="True or False"):
        answers.flag("yes", "beats")


def test_models_and_histories():
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    assert answers.keras_model(model, "fine_tuned") is model
    with pytest.raises(ValueError, match="fine_tuned must be a Keras model"):
        answers.keras_model("model.keras", "fine_tuned")
    history = keras.callbacks.History()
    history.history = {"loss": [0.7], "val_loss": [0.6]}
    assert answers.training_history(history, "run") is history
    with pytest.raises(ValueError, match="no 'val_accuracy' column"):
        answers.training_history(history, "run", needs="val_accuracy")
    with pytest.raises(ValueError, match="must be a training history"):
        answers.training_history({"loss": [0.7]}, "run")


def test_a_wrong_kind_of_answer_reads_as_not_yet_in_a_check():
    exercise = Exercise("lesson99.q1", "A number", hint="-", solution="x = 1.0",
                        check=lambda x: correct() if answers.number(x, "x") == 1.0 else None)
    result = exercise.check("1.0")
    assert result.status == "wrong" and "x must be a number" in result.message
