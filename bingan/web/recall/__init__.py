"""Recall (召回) pages and JSON API."""
