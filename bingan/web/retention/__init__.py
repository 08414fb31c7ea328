"""Retention on the web: due records, applying to destroy them, the rules, the destruction register."""
