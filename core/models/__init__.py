"""Models. The classifiers are in ``builtin``, the a·b network in ``shallow``; a new model is a module here that calls ``core.kernel.registry.register_model``."""
