"""Browser tests: a package so their JupyterLab and Chromium end with the last of them."""
