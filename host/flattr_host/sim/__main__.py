"""python -m flattr_host.sim"""

import sys

from .cli import main

sys.exit(main())
