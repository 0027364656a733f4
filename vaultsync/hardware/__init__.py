"""Receipt printers, cash drawers and email receipts, plus their simulated twins.

Nothing here is allowed to block or lose a sale: rendering is pure (a Receipt in,
ESC/POS bytes out), printing goes through a persistent retry queue
(:mod:`vaultsync.hardware.print_queue`), and every device failure surfaces as a
:class:`~vaultsync.domain.errors.VaultSyncError` whose message a cashier can act on.

Entry points for services:

* :func:`vaultsync.hardware.receipt_render.render_receipt` / ``receipt_text``
* :class:`vaultsync.hardware.print_queue.PrintQueue` (``enqueue_in`` inside the sale's
  unit of work) and :class:`~vaultsync.hardware.print_queue.PrintWorker`
* :func:`vaultsync.hardware.drawer.open_drawer`
* :func:`vaultsync.hardware.email_receipt.send_receipt_email`
"""
