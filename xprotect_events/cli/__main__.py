"""``python -m xprotect_events.cli``: the same as the ``xprotect-events`` console script."""

from . import main

main()
