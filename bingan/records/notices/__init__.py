"""Notices through WeCom, DingTalk and webhooks (企业微信、钉钉、消息平台): an outbox beside the in-app message."""
