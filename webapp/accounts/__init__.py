"""Accounts, users, login, API keys, shops and sender accounts."""
