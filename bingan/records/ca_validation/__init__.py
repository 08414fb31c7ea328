"""CA-service validation (联机验证): signing certificates of collected documents checked with the CA online."""
