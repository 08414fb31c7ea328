"""Copying and printing pages and API (复印打印)."""
