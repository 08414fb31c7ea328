"""Archive signature web: the record page panel (已签章 …, 验证) and its JSON API."""
