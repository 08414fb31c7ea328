"""Paper records (病案数字化加工): capture, review and rework of pages, labels, boxes and shelves."""
