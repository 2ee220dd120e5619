"""biobench-core's version, in a leaf module that every layer may import (the package's ``__init__`` imports them)."""

__version__ = "0.1.0"
