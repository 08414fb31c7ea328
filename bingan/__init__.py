"""Bingan 病案: paperless medical-record archive."""
