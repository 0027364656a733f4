"""VaultSync's NiceGUI front end: pages and components only.

Everything here talks to :mod:`vaultsync.services` (never to the store or SQL), so the
same rules — permissions, validation, audit — apply whether a person uses a page, the
REST API or the CLI. Blocking service calls run off the event loop so one slow query
cannot freeze every other screen served by this terminal.
"""
