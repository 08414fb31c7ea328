"""Completeness rules and the self-checks (完整性验证、系统自检): what a record must contain and whether it does."""
