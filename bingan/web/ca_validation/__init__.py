"""The record page's panel of document signatures with their online (CA) verdicts, and its JSON."""
