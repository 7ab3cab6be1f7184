"""Plotly figures of the app's pages, one module per page (the input and its prediction, an attack,
explanation maps, a robustness report, a benchmark), and what they share. Drawing only: nothing here
computes results."""

HEIGHT = 420  # the usual height of a figure, in pixels
LINE = "#1f77b4"  # the colour of an input's trace and of the plain bars
