"""The exercise types: importing this package registers every one of them.

Each module holds one or a few ``@register``-ed ``ExerciseType`` classes; the helper
modules (``draw``, ``text``, ``levels``, ``concept_bank``) register nothing.
"""

import importlib
import pkgutil

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")
