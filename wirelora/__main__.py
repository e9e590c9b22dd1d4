import sys

from wirelora.cli import main

sys.exit(main())
