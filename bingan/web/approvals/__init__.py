"""Approval pages (views.py) and JSON API (api.py) over bingan.records.approvals."""
