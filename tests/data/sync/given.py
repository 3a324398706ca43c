"""A hand-written module the fixture notebook adds with %hamilton_use."""


def seed() -> int:
    return 2
