"""Collection: sources, connectors, schedules and the pipeline from hospital systems to indexed versions."""
