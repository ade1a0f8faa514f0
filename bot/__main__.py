"""``python -m bot`` is the ``duban`` command."""

import sys

from bot.cli import main

sys.exit(main())
