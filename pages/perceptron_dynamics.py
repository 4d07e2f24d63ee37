"""Not a page of its own: the name Streamlit looks for when the very first request of a fresh
server is a deep link to /perceptron_dynamics (whose page lives in pages/dynamics.py).

Until app.py has called ``st.navigation`` once, Streamlit resolves URLs against the files in
``pages/``; a URL without a file of its name got a "Page not found" modal over the right
page. Here the request finds a file, which hands over to app.py's navigation (see
ui.navigation.require_app), and the page is shown without the modal."""
from ui.navigation import require_app

require_app()
