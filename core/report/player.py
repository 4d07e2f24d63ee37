"""Play, pause, single step, speed and reset for a plotly figure, in the browser alone
(no server round-trip): plotly frames driven by buttons and a slider.

Plotly has no "next frame" command, so every frame carries the buttons again with the step
buttons pointing at its neighbours (plotly applies a frame's layout when it shows the frame);
a step then always goes one frame on from the frame on screen, also after a pause or a slider
drag. At most ``core.report.display.MAX_FRAMES`` frames are sent (every k-th iterate, worked out
before the frames are built, see :func:`frame_positions`).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import plotly.graph_objects as go

from core.report.display import MAX_FRAMES, frame_stride

SPEEDS_MS = {"▶ play": 160, "▶▶ fast": 40}
MENU_PIXELS = 62              # the buttons sit this far under the plot area (below the x title)
EXTRA_BOTTOM_MARGIN = 130


@dataclass(frozen=True)
class Frame:
    """One frame: its label (what the slider shows) and the new data of some traces."""
    label: str
    data: Sequence[go.Scatter]
    traces: Sequence[int]
    layout: dict | None = None          # layout changes this frame brings (e.g. its subtitle)


def frame_positions(count: int, max_frames: int = MAX_FRAMES) -> np.ndarray:
    """Which of ``count`` recorded points become frames: every k-th, the last always."""
    if count <= 0:
        return np.arange(0)
    stride = frame_stride(count, max_frames)
    positions = np.arange(0, count, stride)
    return positions if positions[-1] == count - 1 else np.append(positions, count - 1)


def _go(name: str, duration: int) -> list:
    return [[name], {"mode": "immediate", "frame": {"duration": duration, "redraw": True},
                     "transition": {"duration": 0}}]


def _menus(index: int, names: list[str], y: float, speeds: dict | None = None) -> list[dict]:
    last = len(names) - 1
    play = [dict(label=label, method="animate",
                 args=[None, {"mode": "immediate", "fromcurrent": True,
                              "frame": {"duration": ms, "redraw": True},
                              "transition": {"duration": 0}}])
            for label, ms in (speeds or SPEEDS_MS).items()]
    return [dict(type="buttons", direction="left", showactive=False, x=0, xanchor="left",
                 y=y, yanchor="top", pad=dict(t=0, r=6), font=dict(size=12),
                 buttons=[*play,
                          dict(label="❚❚ pause", method="animate", args=[[None], {
                              "mode": "immediate", "frame": {"duration": 0, "redraw": False},
                              "transition": {"duration": 0}}]),
                          dict(label="◀ step", method="animate",
                               args=_go(names[max(index - 1, 0)], 0)),
                          dict(label="step ▶", method="animate",
                               args=_go(names[min(index + 1, last)], 0)),
                          dict(label="↺ reset", method="animate", args=_go(names[0], 0))])]


def add_player(figure: go.Figure, frames: Sequence[Frame], prefix: str = "k = ",
               start: int = 0, speeds: dict | None = None) -> None:
    """Attach ``frames`` with play / pause / step back / step / reset buttons and a slider.
    The figure's own data should show frame ``start`` (the first, or the last when the
    finished picture is shown first)."""
    if len(frames) < 2:
        return
    names = [f"f{i}" for i in range(len(frames))]
    height = figure.layout.height or 450
    bottom = figure.layout.margin.b if figure.layout.margin.b is not None else 60
    top = figure.layout.margin.t if figure.layout.margin.t is not None else 60
    plot = max(height - top - bottom, 120)          # the plot area keeps its height
    figure.update_layout(height=height + EXTRA_BOTTOM_MARGIN)
    y = -MENU_PIXELS / plot
    figure.frames = [go.Frame(name=name, data=list(frame.data), traces=list(frame.traces),
                              layout=dict(frame.layout or {}, updatemenus=_menus(i, names, y, speeds)))
                     for i, (name, frame) in enumerate(zip(names, frames))]
    steps = [dict(method="animate", label=frame.label, args=_go(name, 0))
             for name, frame in zip(names, frames)]
    figure.update_layout(
        updatemenus=_menus(start, names, y, speeds),
        # tick labels hidden (40 of them would overlap); the current frame is named above the rail
        sliders=[dict(active=start, steps=steps, x=0, len=1.0, y=y - 40 / plot, yanchor="top",
                      pad=dict(t=22, b=0), currentvalue=dict(prefix=prefix, xanchor="right",
                                                             # its own colour: it inherits the
                                                             # slider's (transparent) otherwise
                                                             font=dict(size=12, color="#444")),
                      font=dict(size=1, color="rgba(0,0,0,0)"), ticklen=2)],
        margin=dict(b=bottom + EXTRA_BOTTOM_MARGIN))
