"""scikit-learn's wine recognition data (three cultivars, 13 chemical measurements), two
cultivars at a time, each feature standardised over the two chosen cultivars: d = 13. Classes
are 0, 1 and 2 (the cultivars); the first of the pair is labelled −1. Cultivars 0 and 1
(the default) are linearly separable through the origin once standardised, so every run can
solve; the lab compares GD's step sizes on it next to the other bundled data sets."""
from __future__ import annotations

import numpy as np

from core.datasets.builtin import two_classes
from core.kernel.registry import DatasetKind, register_dataset

CULTIVARS = ("cultivar 0", "cultivar 1", "cultivar 2")


def wine(classes: tuple[int, ...], n: int | None) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_wine

    data = load_wine()
    keep, labels = two_classes(data.target, classes, n, CULTIVARS, "wine")
    b = data.data[keep]
    return (b - b.mean(axis=0)) / b.std(axis=0), labels


register_dataset(DatasetKind(
    "wine", "wine, two cultivars (d = 13, scikit-learn)", lambda spec: wine(spec.classes, spec.n),
    fields=("classes",), fixed_shape=(None, 13), default_shape=(None, 13),
    defaults=(("classes", (0, 1)),), class_names=CULTIVARS,
    description="13 chemical measurements of two wine cultivars, standardised"))
