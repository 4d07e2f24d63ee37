"""Fisher's iris flowers (bundled with scikit-learn), two species on two features — sepal
length and width, centred — so d = 2 and the decision boundary of every run can be drawn.
Setosa against versicolor (classes 0,1, the default) is linearly separable through the
origin: real data on which GD at a large step becomes the batch perceptron step for step.
Versicolor against virginica (1,2) is not separable. Classes are 0 setosa, 1 versicolor,
2 virginica; the first is labelled −1."""
from __future__ import annotations

import numpy as np

from core.datasets.builtin import two_classes
from core.kernel.registry import DatasetKind, register_dataset

SPECIES = ("setosa", "versicolor", "virginica")


def iris(classes: tuple[int, ...], n: int | None) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_iris

    data = load_iris()
    keep, labels = two_classes(data.target, classes, n, SPECIES, "iris")
    b = data.data[keep][:, :2]
    return b - b.mean(axis=0), labels


register_dataset(DatasetKind(
    "iris", "iris, two species (d = 2, scikit-learn)", lambda spec: iris(spec.classes, spec.n),
    fields=("classes",), fixed_shape=(None, 2), default_shape=(None, 2),
    defaults=(("classes", (0, 1)),), description="sepal length and width of two iris species, centred"))
