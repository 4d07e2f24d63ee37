"""The complexity page's caption from its numbers: each curve's fitted slope with its
interval, which reference slope it follows, whether two curves' intervals overlap and how
many seed runs did not solve (see core/report/display.py for the pattern)."""
from __future__ import annotations

from core.report import display as dp

NEAR = 0.05                  # a fitted interval this close to a reference slope counts as it
COLOUR_NAMES = ("blue", "red", "green", "purple", "orange", "brown", "pink")


REFERENCES = ((1.0, "like d (slope ≈ 1)"), (0.5, "like √d (slope ≈ ½)"), (0.0, "not at all (slope ≈ 0)"))


def slope_words(slope: float, low: float, high: float) -> str:
    """Which reference slope the fit follows, judged from its 95 % interval: one only when
    the interval holds no other (an interval from −0.5 to 1.16 holds 0, ½ and 1: it names
    none of them)."""
    inside = [(ref, words) for ref, words in REFERENCES if low - NEAR <= ref <= high + NEAR]
    if len(inside) >= 2:
        return ("at a rate these runs do not pin down (the interval holds slopes "
                + dp.joined([_slope(ref) for ref, _ in sorted(inside)]) + ")")
    if inside and inside[0][0] > 0:
        return inside[0][1]
    if high < 0.5:
        return "slower than √d"
    return "between √d and d" if high < 1.0 else "faster than d"


def _slope(ref: float) -> str:
    return {0.0: "0", 0.5: "½", 1.0: "1"}[ref]


def slope_number(value: float) -> str:
    """A fitted slope to two decimals: 0.94, −0.25, and 0.00 (never −0.00) for a fit of
    flat data whose slope is −6·10⁻¹⁷."""
    return f"{round(value, 2) + 0.0:.2f}".replace("-", "−")


_number = slope_number


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
        fitted = (f"fitted slope of the 90th percentile {_number(fit.slope)} (95 % CI "
                  f"{_number(fit.ci_low)}–{_number(fit.ci_high)})")
        capped = [d for d in result.dims if result.stats(curve, d).get("p90_lower_bound")]
        if capped:
            where = ("every d" if len(capped) == len(result.dims) else
                     f"{len(capped)} of {len(result.dims)} d (d = {dp.joined([str(d) for d in capped])})")
            sentences.append(f"{name}: the 90th percentile sits at the budget at {where}, so the "
                             f"{fitted} measures the budget, not the growth; raise the iterations.")
            continue
        intervals.append((name, fit.ci_low, fit.ci_high))
        sentences.append(f"{name} grows {slope_words(fit.slope, fit.ci_low, fit.ci_high)}: {fitted}"
                         + (f"; {dp.plural(unsolved, 'seed run')} unsolved within the budget "
                            "(counted at the budget in the fitted 90th percentile)" if unsolved else "") + ".")
    if len(intervals) >= 2:
        (a, a_low, a_high), (b, b_low, b_high) = intervals[:2]
        apart = a_high < b_low or b_high < a_low
        sentences.append(f"The intervals of {a.split(' (')[0]} and {b.split(' (')[0]} "
                         + ("do not overlap." if apart else "overlap: these settings do not "
                            "separate the two growth rates."))
    return sentences
