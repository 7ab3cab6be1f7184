"""The app's pages, one script each, which Streamlit runs on every interaction (``st.Page`` in
``app.py``). Never import one: importing a page runs it. What pages share is in
:mod:`rlab_app.widgets` and :mod:`rlab_app.state`."""
