"""What the app's pages keep between reruns: Streamlit's caches and the records pages keep in
``st.session_state``. One module per subject: the victims, their inputs and answers
(:mod:`.victims`), attacks (:mod:`.attacks`), explanations (:mod:`.explanations`), and the JSON
reports of the background runs (:mod:`.reports`).

Every widget change reruns a page from the top, so anything slow goes through Streamlit's caches:
``st.cache_resource`` for objects kept as they are (models, datasets), ``st.cache_data`` for
results (copied on every read, so a page cannot alter a cached value). The functions also work
outside a running app (the caches then simply stay in memory), so tests can call them. No function
here is named ``test_*``: pytest would collect it from any test module that imports it.
"""
