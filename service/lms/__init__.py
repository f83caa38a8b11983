"""The LTI 1.3 parts that grading and the worker use, with no web framework: the tool's
keys, the registered platforms as PyLTI1p3 sees them, grade pushes (AGS) and roster
sync (NRPS). The web side (login, launch, deep linking, registration pages) is
``service.lti``."""
