"""Version comparison and the review of changes collected after archiving (版本对比、归档后变更审核)."""
