"""Blob stores behind one BlobStore port: local encrypted volumes and MongoDB GridFS."""
