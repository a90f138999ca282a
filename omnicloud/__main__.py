import sys

from omnicloud.cli import main

sys.exit(main())
