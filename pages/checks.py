"""Paper checks: every claim of core.claims.catalog run and judged, with a link to the view that
shows it. The same list as ``python -m core reproduce``."""
from __future__ import annotations

import json

import pandas as pd
import streamlit as st

from core.store.cache import CODE_VERSION
from core.claims.catalog import CLAIMS, check, select
from ui.display import literal, run_with_progress
from ui.page import PROCESS_MEMO, open_page, relative_link, remember
from ui.state import flag

PAGE = "checks"
ROW_HEIGHT = 80      # the table's rows hold several lines
INTRO = """
Each row is one claim of the three papers (or of the neighbouring results in `docs/science.md`
§4, where every formula and convention is written out): what the paper says, the run that
measures it, the tolerance and the verdict. Every claim also runs **negative controls** —
deliberately wrong variants (a wrong normalisation, step rule, shift, …) through the same judge,
which must reject them; a claim whose control passes is **WEAK**. The runs are ordinary sweeps,
cached like every other view; **open view** shows the claim's run on its dashboard page. The same checks run on the command line:
`python -m core reproduce` (the quick ones) or `python -m core reproduce --all`
(add `--format json` for the JSON below, `--no-cache` to recompute).
"""


SLOW_COUNT = sum(not claim.fast for claim in CLAIMS)
CONTROLS = [flag("slow", False, f"Also run the {SLOW_COUNT} slow checks (about 15 s on a CPU the "
                 "first time)")]


def run_checks(claims, use_cache: bool) -> list:
    """The verdicts, computed once per server process and code version (they are
    deterministic: every run behind them is a cached sweep); "run again" recomputes. While they
    run, a board shows which claim runs, which are done and their verdicts as they arrive."""
    key = ("checks", tuple(claim.name for claim in claims), CODE_VERSION)
    if use_cache and key in PROCESS_MEMO:
        return PROCESS_MEMO[key]
    board = st.empty()

    def task(progress):
        verdicts = []
        for index, claim in enumerate(claims):
            board.markdown(progress_board(claims, verdicts))
            verdicts.append(check(claim, use_cache=use_cache,
                                  progress=lambda f, i=index: progress((i + f) / len(claims))))
            progress((index + 1) / len(claims))
        return verdicts

    try:
        verdicts = run_with_progress(task, f"checking {len(claims)} claims")
    finally:
        board.empty()
    return remember(key, verdicts)


STATUS_MARKS = {"pass": ":green[PASS]", "weak": ":orange[WEAK]", "fail": ":red[FAIL]"}


def progress_board(claims, verdicts) -> str:
    """Markdown while the checks run: the claim running now, the verdicts so far (newest
    last), and what is left. Claim names are the project's own identifiers, set as code."""
    done, total = len(verdicts), len(claims)
    counts = summary(verdicts)
    lines = [f"**Checking {total} claims:** {done} done ({counts[0]} passed, {counts[1]} weak, "
             f"{counts[2]} failed)"]
    lines += [f"- {STATUS_MARKS[v.status]} `{v.claim.name}` · {literal(v.measurement.measured, 120)}"
              f" ({v.seconds:.1f} s{', cached' if v.cached else ''})" for v in verdicts]
    if done < total:
        running = claims[done]
        lines.append(f"- :blue[RUNNING] `{running.name}` ({done + 1}/{total}) — {literal(running.statement, 120)}")
        left = [f"`{claim.name}`" for claim in claims[done + 1:]]
        if left:
            lines.append(f"- then {len(left)} more: " + ", ".join(left))
    return "\n".join(lines)


def verdict_rows(verdicts) -> list[dict]:
    rows = []
    for verdict in verdicts:
        claim = verdict.claim
        rows.append({
            "result": verdict.status.upper(),
            "claim": claim.name,
            "view": relative_link(claim.link()),
            "paper & section": claim.paper,
            "what the paper says": claim.statement,
            "what we measure": verdict.measurement.measured,
            "expected": claim.expected,
            "tolerance": claim.tolerance,
            "negative controls": control_summary(verdict),
            "speed": "quick" if claim.fast else "slow",
            "seconds": round(verdict.seconds, 2),
        })
    return rows


def control_summary(verdict) -> str:
    """One line per control: rejected (as it must be) or accepted (the claim is weak)."""
    if not verdict.controls:
        return "none run" if not verdict.judged else "none: cannot tell a wrong variant apart"
    return "; ".join(f"{'rejected' if not c.passed else 'ACCEPTED'}: {c.name}" for c in verdict.controls)


RESULT_STYLES = {"PASS": "color: #1a7f37; font-weight: 600", "WEAK": "color: #9a6700; font-weight: 700",
                 "FAIL": "color: #cf222e; font-weight: 700"}


def result_style(value: str) -> str:
    return RESULT_STYLES.get(value, "")


def summary(verdicts) -> tuple[int, int, int]:
    """(passed, weak, failed)."""
    statuses = [v.status for v in verdicts]
    return statuses.count("pass"), statuses.count("weak"), statuses.count("fail")


def main() -> None:
    state = open_page(PAGE, CONTROLS, "Paper checks", INTRO, keep_hidden=True)
    left, right = st.columns([3, 2], vertical_alignment="center")
    include_slow = state.draw("slow", left)
    fresh = right.button("Run again, ignoring the cache", icon=":material/refresh:")
    claims = select(None, include_slow)
    verdicts = run_checks(claims, use_cache=not fresh)
    passed, weak, failed = summary(verdicts)
    cached = sum(v.cached for v in verdicts)
    line = f"{passed} passed, {weak} weak, {failed} failed"
    if failed or weak:
        st.warning(line, icon=":material/report:")
    else:
        st.success(line, icon=":material/check_circle:")
    st.caption(f"{len(verdicts)} claims in {sum(v.seconds for v in verdicts):.2f} s "
               f"({cached} entirely from the cache)"
               + ("" if include_slow else f"; {SLOW_COUNT} slow claims not run"))
    rows = verdict_rows(verdicts)
    st.dataframe(
        pd.DataFrame(rows).style.map(result_style, subset=["result"]), hide_index=True,
        width="stretch", row_height=ROW_HEIGHT, height=len(rows) * ROW_HEIGHT + 40,
        column_config={
            "result": st.column_config.TextColumn(width=60),
            "claim": st.column_config.TextColumn(width=150),
            "paper & section": st.column_config.TextColumn(width=210),
            "what the paper says": st.column_config.TextColumn(width=300),
            "what we measure": st.column_config.TextColumn(width=300),
            "expected": st.column_config.TextColumn(width=220),
            "tolerance": st.column_config.TextColumn(width=100),
            "negative controls": st.column_config.TextColumn(width=260),
            "view": st.column_config.LinkColumn("view", display_text="open view", width=90,
                                                help="the dashboard view of the claim's run"),
        })
    with st.expander("Details of failed and weak checks" if failed or weak else "Details"):
        marks = {"pass": ":green[PASS]", "weak": ":orange[WEAK]", "fail": ":red[FAIL]"}
        for verdict in verdicts:
            detail = verdict.measurement.detail
            st.markdown(f"{marks[verdict.status]} **{verdict.claim.name}** — [{verdict.claim.page} view]"
                        f"({relative_link(verdict.claim.link())}) · {verdict.measurement.measured}"
                        + (f" · {detail}" if detail else ""))
            for control in verdict.controls:
                st.markdown(f"&nbsp;&nbsp;&nbsp;control *{control.name}*: "
                            f"{'rejected' if not control.passed else ':orange[accepted]'} · {control.measured}")
    st.download_button("verdicts.json", data=json.dumps([v.to_dict() for v in verdicts], indent=1),
                       file_name="verdicts.json", mime="application/json",
                       on_click="ignore", icon=":material/data_object:")
    state.publish()


if __name__ == "__main__":      # Streamlit runs a page as __main__; tests import its table
    main()
