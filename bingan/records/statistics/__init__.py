"""Statistics (统计报表与质控指标): the 2021 indicators, the record room's reports and its saved report definitions."""
