"""Use cases of the shop. The UI and the API call these; these use the store.

No NiceGUI, no FastAPI here: a service takes plain arguments, checks permissions itself
(the UI hiding a button is a convenience, not a control), and raises
:class:`vaultsync.domain.errors.VaultSyncError` subclasses with messages fit for people.
"""
