"""Statistics pages: the department archive-rate report, the working-day calendar (统计报表、节假日)."""
