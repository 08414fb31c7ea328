"""The FastAPI application: zh-CN pages (Jinja2 + HTMX) and the JSON API under /api/v1."""
