"""Clients for the systems imtui talks to (web shops, WMSs), one module per platform.

Import the platforms through :mod:`imtui.connectors.registry`; the engine needs only the
protocols in :mod:`imtui.connectors.base`.
"""
