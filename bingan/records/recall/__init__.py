"""Recall (召回): an archived record goes back to its doctors for correction, its archived state pinned."""
