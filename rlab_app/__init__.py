"""RLAB's Streamlit app (``streamlit run app.py``), apart from the library: ``rlab_core`` imports
neither Streamlit nor Plotly, and everything here builds on it.

- ``pages/``: one script per page, layout only; ``app.py`` lists them in ``st.navigation``.
- :mod:`.widgets`: what several pages lay out (the input, the network, a background run's controls).
- :mod:`.state`: Streamlit's caches of victims, agents, attacks, explanations and reports, and the
  records pages keep in ``st.session_state``.
- :mod:`.figures`: the Plotly figures, one module per page.
- :mod:`.jobs`: the background runs (robustness, benchmark) the pages start, follow and stop.
"""
