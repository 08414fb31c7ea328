"""Comparing versions of a document (文档变更对比): text per page, changed regions, pages aligned."""
