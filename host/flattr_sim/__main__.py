"""python -m flattr_sim"""

import sys

from .command import main

sys.exit(main())
