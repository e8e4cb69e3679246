"""Development helpers: a local Redis launcher, a mail catcher and the `make run` orchestration."""
