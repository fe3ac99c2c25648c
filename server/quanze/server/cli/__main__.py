"""`python -m quanze.server.cli`: the `quanze` command."""

import sys

from quanze.server.cli import main

sys.exit(main())
