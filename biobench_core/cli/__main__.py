"""``python -m biobench_core.cli`` is ``biobench``."""

import sys

from biobench_core.cli._main import main

sys.exit(main())
