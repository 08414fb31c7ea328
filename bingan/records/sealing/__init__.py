"""Sealing (封存): applying, the frozen seal package signed by the hospital, unsealing."""
