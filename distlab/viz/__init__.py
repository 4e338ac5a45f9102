"""Pictures drawn with matplotlib: speed-up curves, message diagrams, history timelines.

Functions here take plain data (figures measured elsewhere) and return a
matplotlib Figure; they never run experiments themselves.
"""
