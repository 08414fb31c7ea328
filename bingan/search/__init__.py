"""Full-text search: one SearchIndex port, tantivy (embedded) and Elasticsearch adapters,
Chinese analysis, query language."""
