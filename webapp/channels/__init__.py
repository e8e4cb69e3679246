"""Delivery channels: e-mail through Flask-Mail per sender account (SMS later)."""
