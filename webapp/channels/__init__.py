"""Delivery channels: e-mail over each sender account's SMTP server, and SMS."""
