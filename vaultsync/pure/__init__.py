"""Pure-Python reference implementations of the native core kernels.

Each module here has exactly the public API of its compiled twin built from ``_native/<name>.pyx``
into ``vaultsync._compiled.<name>``. The reference defines the semantics (the compiled kernels are
tested for identical results, including which exception type bad input raises) and is the
fallback wherever the extensions could not be built. Callers should not import these modules
directly: ``vaultsync.native`` picks the implementation.
"""
