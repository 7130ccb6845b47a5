"""The domain: templates, the postmortem document, its checklist, the export formats, the
reminder policy and who owns an action. Pure: it imports nothing else of the project (no
storage, no Slack, no composition), and time is passed in (``clock`` is only its interface
and the two clocks the composition and the tests hand over). ``tests/test_layers.py`` holds it so.
"""
