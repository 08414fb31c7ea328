"""Borrowing (借阅) pages and JSON API."""
