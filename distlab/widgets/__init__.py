"""ipywidgets panels for the notebooks. The only package of distlab that imports ipywidgets.

Widgets hold no protocol logic: each button calls the same library method a
test calls (``cluster.crash("n2")``), and each display reads ``statistics()`` or
``status()``. Their logic is tested from Python with ``button.click()``.
"""
