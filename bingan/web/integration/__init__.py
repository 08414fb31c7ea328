"""Integration: notices settings and log, API tokens, embed links for hospital systems."""
