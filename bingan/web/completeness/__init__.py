"""Completeness pages (views.py) and JSON API (api.py): submission, self-checks, marks, rules, document-type mapping."""
