"""Worked examples for chapter authors: small, complete systems that keep the core contract.

`distlab.examples.gcounter` -- a replicated counter, the walkthrough of
docs/ADDING_A_SYSTEM.md: core, simulator safety check, node program, client, system.
"""
