"""The pages of the VaultSync UI; each module's ``register()`` adds its routes."""
