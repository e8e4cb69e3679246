"""Customers, orders, items, events, documents and the order state machine."""
