"""``python -m tinygdl`` is the ``tinygdl`` command."""

import sys

from .cli import main

sys.exit(main())
