"""Retention (保存期限): records past their keeping period, destroyed only through an approved request."""
