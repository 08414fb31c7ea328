"""Archive QC pages and JSON API."""
