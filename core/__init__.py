"""GD Dynamics Explorer core: specs, datasets, models, the batched engine, cache and plots.

Pure Python (torch, numpy, scipy, plotly); never imports streamlit.
"""
from core.kernel.spec import RunSpec, SpecError, make_spec

__all__ = ["RunSpec", "SpecError", "make_spec"]
