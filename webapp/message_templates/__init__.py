"""Message templates and their variants; the sandboxed renderer."""
