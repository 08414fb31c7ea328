"""Sources on screen (采集源管理): source settings, connection test, run now, push keys, mappings, aliases."""
