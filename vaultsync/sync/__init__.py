"""Replication: hybrid logical clocks, vector clocks, change log, diff, merge, peers."""
