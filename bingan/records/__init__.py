"""The record domain (病案): records, documents, versions and the workflows on them."""
