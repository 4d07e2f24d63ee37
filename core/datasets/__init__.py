"""Data sets. The built-ins are in ``builtin``; a new data set is a module here that calls ``core.kernel.registry.register_dataset`` (found automatically, see ``iris``)."""
