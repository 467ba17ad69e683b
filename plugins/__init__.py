"""Built-in plugins of ``zoo``: one module per model family, plus built-in data sets.

Each module is an ordinary pluggy plugin, written exactly as a third party would write
one; :data:`zoo.registry.manager.BUILTIN_PLUGINS` registers them by module name.
"""
