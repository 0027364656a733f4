"""SKU search: the in-memory ranked index every search box uses (cashier, inventory, API, kiosk).

:class:`SkuIndex` keeps a native ``SearchIndex`` (``vaultsync.native.search``) in step with the
store through the change log; see :mod:`vaultsync.search.sku_index`.
"""

from vaultsync.search.sku_index import SkuIndex

__all__ = ["SkuIndex"]
