"""Document formats: bytes in, text and page images out (PDF, OFD, scans, video, office). No database, no web."""
