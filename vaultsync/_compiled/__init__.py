"""Compiled native core: extension modules built by ``setup.py`` from ``_native/*.pyx`` land here.

This package may legitimately be empty (the build is optional). Never import from it directly;
``vaultsync.native`` chooses between these modules and the references in ``vaultsync.pure``.
"""
