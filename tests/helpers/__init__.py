"""Shared test helpers for the core runner tests (issue 2).

Everything here drives real parts: the installed ``authrules`` command, real
entry-point metadata, real HTTP clients talking to a loopback socket, a real
``pip install`` into a throwaway venv. Nothing is mocked.
"""
