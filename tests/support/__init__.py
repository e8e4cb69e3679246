"""Helpers shared by the test suite: services to start, data to create."""
