"""VaultSync: offline-first, peer-to-peer point of sale and inventory for collectibles shops.

Layers point one way: ``ui``/``api`` -> ``services`` -> ``store`` (+ change log) -> ``sync``.
"""

__version__ = "0.1.0"
