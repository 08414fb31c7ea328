"""The approval-flow engine shared by every workflow (borrowing, renewal, sealing, unsealing,
recall, archive QC, copying): flows as data, steps, decisions, opinions, attachments, the to-do
inbox and in-app messages. It imports no workflow: workflows register a ``Kind`` (kinds.py)."""
