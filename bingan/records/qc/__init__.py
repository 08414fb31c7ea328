"""Archive QC (归档质控): the worklist, comments, returns routed to the record's owners, pass to archive."""
