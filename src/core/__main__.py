"""``python -m authrules`` is the ``authrules`` command."""

from ._cli import main

raise SystemExit(main())
