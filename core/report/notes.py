"""Notes for people about a spec, said once by the CLI (stderr) and by the pages (a caption)."""
from __future__ import annotations

from core.kernel.registry import model_family


def identical_seeds(spec) -> str | None:
    """Several seeds on a model that starts at θ₀ = 0 (no random init) give identical runs."""
    if len(spec.seeds) < 2 or model_family(spec.model) == "shallow":
        return None
    from core.models.builtin import build

    if not build(spec).starts_at_zero():
        return None
    return (f"the {spec.model} model starts at θ₀ = 0, so its {len(spec.seeds)} seeds give "
            "identical runs")
