"""Built-in plugins of ``zoo``: one module per model family (a package with the same files
for each GAN family: see :mod:`zoo.pluginkit`), plus built-in data sets.

Each is an ordinary pluggy plugin, written exactly as a third party would write
one; :data:`zoo.registry.manager.BUILTIN_PLUGINS` registers them by module name.
"""
