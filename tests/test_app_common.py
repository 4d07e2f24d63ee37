"""The shared page helpers: URL binding of controls and errors from a run."""
from streamlit.testing.v1 import AppTest

from tests.app_helpers import errors

from tests.app_helpers import TIMEOUT


def url_page():
    import streamlit as st

    from ui.state import Field, UrlState, number_parser

    state = UrlState.create("demo", [Field("n", 5, number_parser("n", int)),
                                     Field("name", "a"), Field("hidden", 1.5)])
    state.show_errors()
    n = state.number("n", "n", int)
    name = state.text("name", "name")
    st.write(f"n={n} name={name}")
    state.publish()


def memory_page():
    import streamlit as st

    from core.kernel.spec import SpecError
    from ui.display import run_with_progress, show_error

    def task(progress):
        progress(0.5)
        raise MemoryError

    try:
        run_with_progress(task, "running")
    except SpecError as error:
        show_error(error)


def test_controls_round_trip_through_the_url():
    at = AppTest.from_function(url_page, default_timeout=TIMEOUT)
    at.query_params = {"n": "7", "name": "b", "unrelated": "x"}
    at.run()
    assert not at.exception and not at.error
    assert at.number_input(key="demo.n").value == 7
    assert at.text_input(key="demo.name").value == "b"
    # Only the controls that were drawn are written back, sorted like a canonical string.
    assert at.query_params == {"n": "7", "name": "b"}
    at.number_input(key="demo.n").set_value(9).run()
    assert at.query_params == {"n": "9", "name": "b"}


def test_a_bad_url_value_is_named_and_the_default_used():
    at = AppTest.from_function(url_page, default_timeout=TIMEOUT)
    at.query_params = {"n": "seven"}
    at.run()
    assert errors(at) == [
        "URL parameter n: expected an integer in plain ASCII digits, got 'seven' (using the default '5')"]
    assert at.number_input(key="demo.n").value == 5


def test_running_out_of_memory_is_an_error_naming_memory():
    at = AppTest.from_function(memory_page, default_timeout=TIMEOUT).run()
    assert not at.exception
    assert errors(at)[0].startswith("memory: the run did not fit in memory")


def scenario_headers():
    import streamlit as st

    from core.claims.scenarios import SCENARIOS
    from ui import page
    from ui.state import SCENARIO_KEY

    class Unchanged:                    # the page's state: the scenario's own settings
        def query(self):
            return {}

    page_link = st.page_link            # no navigation here: the way back is not drawn
    st.page_link = lambda *args, **kwargs: None
    try:
        for scenario in SCENARIOS:
            st.session_state[SCENARIO_KEY] = (scenario.page, scenario.key)
            page.scenario_header(scenario.page, Unchanged())
    finally:
        st.page_link = page_link


def test_every_scenario_header_states_its_whole_look_for_sentence():
    """An opened scenario's sentence is its answer: none is cut short (lab_sqrt_d_leaky's,
    401 characters, ended "… the linear model's…")."""
    from core.claims.scenarios import SCENARIOS

    at = AppTest.from_function(scenario_headers, default_timeout=TIMEOUT).run()
    assert not at.exception, [e.value for e in at.exception]
    shown = [info.value.replace("\\", "").replace("\u200b", "") for info in at.info]
    assert len(shown) == len(SCENARIOS)
    for scenario, text in zip(SCENARIOS, shown):
        assert scenario.look_for in text, (scenario.key, text[-80:])
