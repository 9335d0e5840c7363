"""``python -m refusal_detector`` runs the command line, like the ``refusal-detector`` script."""

from __future__ import annotations

import sys

from refusal_detector.cli import main

sys.exit(main())
