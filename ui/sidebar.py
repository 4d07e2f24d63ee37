"""The sidebar footer every page shares: where runs execute and where results are cached."""
from __future__ import annotations

import os
import sqlite3

import streamlit as st
import torch

from core.engine import distributed
from core.api import open_cache
from core.store.cache import default_directory
from core.engine.loop import resolve_device
from core.kernel.settings import env_number

from .display import literal
from .state import PRESENT_KEY


THREADS_VARIABLE = "GDX_TORCH_THREADS"


def limit_torch_threads() -> None:
    """Run torch on one CPU thread unless GDX_TORCH_THREADS says otherwise: the sweeps are
    many small tensor ops, where extra threads only add synchronisation, and on a busy
    2-core machine spinning threads made the default views 10–50× slower (measured)."""
    wanted = int(env_number(THREADS_VARIABLE))
    if torch.get_num_threads() != wanted:
        torch.set_num_threads(wanted)


BACKEND_STATE = "gdx_backend"            # this session's choice, read by core.engine.distributed
BACKEND_WIDGET = "gdx_backend_widget"


def _session_backend() -> str | None:
    """The backend this session chose in the sidebar (None outside a script run: the CLI,
    tests and worker threads use GDX_BACKEND)."""
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    if get_script_run_ctx(suppress_warning=True) is None:
        return None
    if not ray_offered():
        return "local"        # never a Ray instance started inside the shared server
    return st.session_state.get(BACKEND_STATE)


def ray_offered() -> bool:
    """Visitors may choose Ray only when the server was started with GDX_RAY_ADDRESS (a
    cluster run by its administrator): a local Ray instance started by a visitor would run
    inside the shared server and outlive the visitor's session."""
    return bool(distributed.backend_from_env().address)


distributed.set_session_resolver(_session_backend)


def _remember_backend() -> None:
    # on_change runs before the rerun, so the page computing next already uses the choice
    st.session_state[BACKEND_STATE] = st.session_state[BACKEND_WIDGET]


def backend_setting(box) -> None:
    """Local or Ray for this session's sweeps. The cluster address is the server's
    GDX_RAY_ADDRESS (never typed in the page: visitors cannot point the server elsewhere)."""
    try:
        current = distributed.current_backend()
        offered = ray_offered()
    except Exception as error:  # a bad GDX_BACKEND must not take the page down
        box.caption("Backend setting unavailable: " + literal(error))
        return
    if not offered:
        box.caption("Sweeps run here, in this server (Ray is offered when the server is "
                    "started with GDX_RAY_ADDRESS).")
        return
    box.radio("Sweeps run", distributed.BACKENDS, index=distributed.BACKENDS.index(current.name),
              key=BACKEND_WIDGET, on_change=_remember_backend, horizontal=True,
              format_func=lambda name: {"local": "here", "ray": "on Ray"}[name],
              help="On Ray, a sweep is cut into shards that run as Ray tasks; the results "
                   "are identical and cached here, on the dashboard's machine.")
    if current.name == "ray":
        box.caption(f"Ray: {current.describe()} (server setting GDX_RAY_ADDRESS); progress "
                    "counts shards done of all.")


@st.cache_resource
def device_summary() -> str:
    device = resolve_device("auto")
    if device.type == "cuda":
        return f"GPU: {torch.cuda.get_device_name(device)}"
    return f"CPU, torch on {torch.get_num_threads()} thread(s) of {os.cpu_count()} (no CUDA GPU)"


def sidebar_footer() -> None:
    """Where runs execute, the backend and the cache: developer text, behind one Details
    expander, and not shown at all in presentation mode."""
    if st.session_state.get(PRESENT_KEY):
        return
    box = st.sidebar.expander("Details: device, backend, cache", icon=":material/info:")
    box.markdown("**Runs execute on** " + device_summary())
    backend_setting(box)
    try:
        cache = open_cache()
        entries = len(cache)
        size = cache.volume() / 2**20
        box.caption(f"Results are cached on disk ({entries} sweeps, {size:.1f} MiB in "
                    f"`{default_directory()}`): repeating a setting is instant. "
                    "Clear with `python -m core cache clear`.")
    except (OSError, sqlite3.Error) as error:  # a broken cache must not take the page down
        box.caption("Result cache unavailable: " + literal(error))
