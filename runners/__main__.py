"""``python -m runners``: see `runners.cli`."""

import sys

from runners.cli import main

sys.exit(main())
