"""Entry point: `python -m mvcore ...` (see mvcore.cli)."""

import sys

from .cli import main

sys.exit(main())
