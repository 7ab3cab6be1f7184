import sys

from rlab_core.cli import main

sys.exit(main())
