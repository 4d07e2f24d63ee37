"""Update rules. The built-ins are in ``builtin``; a new rule is a module here that calls ``core.algorithms.builtin.register_algorithm``."""
