"""Fisher's iris flowers (bundled with scikit-learn), two species on two features — sepal
length and width, centred — so d = 2 and the decision boundary of every run can be drawn.
Setosa against versicolor (classes 0,1, the default) is linearly separable through the
origin: real data on which GD at a large step becomes the batch perceptron step for step.
Versicolor against virginica (1,2) is not separable. Classes are 0 setosa, 1 versicolor,
2 virginica; the first is labelled −1."""
from __future__ import annotations

import numpy as np

from .errors import SpecError
from .registry import DatasetKind, register_dataset

SPECIES = ("setosa", "versicolor", "virginica")


def iris(classes: tuple[int, ...], n: int | None) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_iris

    if any(c >= len(SPECIES) for c in classes):
        raise SpecError("classes", f"iris has classes 0, 1, 2 ({', '.join(SPECIES)}), "
                        f"got {','.join(map(str, classes))}")
    data = load_iris()
    negative, positive = classes
    keep = np.flatnonzero(np.isin(data.target, classes))
    if n is not None:
        if n > keep.size:
            raise SpecError("n", f"must be in [2, {keep.size}] for two iris species, got {n}")
        keep = np.sort(np.random.default_rng(0).permutation(keep)[:n])   # both species
    b = data.data[keep][:, :2]
    b = b - b.mean(axis=0)
    return b, np.where(data.target[keep] == positive, 1.0, -1.0)


register_dataset(DatasetKind(
    "iris", "iris, two species (d = 2, scikit-learn)", lambda spec: iris(spec.classes, spec.n),
    fields=("classes",), fixed_shape=(None, 2), default_shape=(None, 2),
    defaults=(("classes", (0, 1)),), description="sepal length and width of two iris species, centred"))
