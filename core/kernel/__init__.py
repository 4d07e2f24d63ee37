"""Declarations: the field table, run specs, the list parser, the plug-in registries, settings."""
