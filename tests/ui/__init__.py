"""UI tests: NiceGUI's simulated ``user`` against a real (temporary) shop database."""
