"""The sidebar footer every page shares: where runs execute and where results are cached."""
from __future__ import annotations

import os
import sqlite3

import streamlit as st
import torch

from core.api import open_cache
from core.cache import default_directory
from core.engine import resolve_device
from core.settings import env_number

from .common import literal


THREADS_VARIABLE = "GDX_TORCH_THREADS"


def limit_torch_threads() -> None:
    """Run torch on one CPU thread unless GDX_TORCH_THREADS says otherwise: the sweeps are
    many small tensor ops, where extra threads only add synchronisation, and on a busy
    2-core machine spinning threads made the default views 10–50× slower (measured)."""
    wanted = int(env_number(THREADS_VARIABLE))
    if torch.get_num_threads() != wanted:
        torch.set_num_threads(wanted)


@st.cache_resource
def device_summary() -> str:
    device = resolve_device("auto")
    if device.type == "cuda":
        return f"GPU: {torch.cuda.get_device_name(device)}"
    return f"CPU, torch on {torch.get_num_threads()} thread(s) of {os.cpu_count()} (no CUDA GPU)"


def sidebar_footer() -> None:
    box = st.sidebar.container(border=True)
    box.markdown("**Runs execute on** " + device_summary())
    try:
        cache = open_cache()
        entries = len(cache)
        size = cache.volume() / 2**20
        box.caption(f"Results are cached on disk ({entries} sweeps, {size:.1f} MiB in "
                    f"`{default_directory()}`): repeating a setting is instant. "
                    "Clear with `python -m core cache clear`.")
    except (OSError, sqlite3.Error) as error:  # a broken cache must not take the page down
        box.caption("Result cache unavailable: " + literal(error))
