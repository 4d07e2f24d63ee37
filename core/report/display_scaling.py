"""The complexity page's caption from its numbers: each curve's fitted slope with its
interval, which reference slope it follows, whether two curves' intervals overlap and how
many seed runs did not solve (see core/report/display.py for the pattern)."""
from __future__ import annotations

from core.report import display as dp

NEAR = 0.05                  # a fitted interval this close to a reference slope counts as it
COLOUR_NAMES = ("blue", "red", "green", "purple", "orange", "brown", "pink")


def slope_words(slope: float, low: float, high: float) -> str:
    """Which reference slope the fit follows, judged from its 95 % interval."""
    if low - NEAR <= 1.0 <= high + NEAR:
        return "like d (slope ≈ 1)"
    if low - NEAR <= 0.5 <= high + NEAR:
        return "like √d (slope ≈ ½)"
    if high < 0.5:
        return "slower than √d"
    return "between √d and d" if high < 1.0 else "faster than d"


def scaling_sentences(result, labels: dict | None = None) -> list[str]:
    labels = labels or {}
    sentences, intervals = [], []
    for index, curve in enumerate(result.curves):
        name = f"{labels.get(curve, curve.label)} ({COLOUR_NAMES[index % len(COLOUR_NAMES)]})"
        fit = result.fits.get(curve)
        unsolved = sum(result.stats(curve, d)["unsolved"] for d in result.dims)
        if fit is None:
            sentences.append(f"{name}: too few solved dimensions to fit a slope.")
            continue
        intervals.append((name, fit.ci_low, fit.ci_high))
        sentences.append(f"{name} grows {slope_words(fit.slope, fit.ci_low, fit.ci_high)}: "
                         f"fitted slope of the 90th percentile {fit.slope:.2f} (95 % CI {fit.ci_low:.2f}–{fit.ci_high:.2f})"
                         + (f"; {dp.plural(unsolved, 'seed run')} unsolved within the budget "
                            "(counted at the budget in the fitted 90th percentile)" if unsolved else "") + ".")
    if len(intervals) >= 2:
        (a, a_low, a_high), (b, b_low, b_high) = intervals[:2]
        apart = a_high < b_low or b_high < a_low
        sentences.append(f"The intervals of {a.split(' (')[0]} and {b.split(' (')[0]} "
                         + ("do not overlap." if apart else "overlap: these settings do not "
                            "separate the two growth rates."))
    return sentences
