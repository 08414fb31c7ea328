"""Statistics pages and API (统计报表与质控指标): indicators with drill-down, reports, saved definitions."""
