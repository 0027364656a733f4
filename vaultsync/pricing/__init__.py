"""Price data from outside the shop: CSV export formats and the HTTP feed client.

No database and no services here: :mod:`~vaultsync.pricing.csv_formats` turns a file
into rows (or per-row errors), :mod:`~vaultsync.pricing.feed_client` fetches a feed's
bytes with timeouts, retries and backoff. Matching rows to SKUs, the rules and the
volatility guard live in :mod:`vaultsync.services.price_import`.
"""
