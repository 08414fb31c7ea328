"""Paper records pages and JSON API."""
