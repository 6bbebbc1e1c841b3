import sys

from launcher.cli.root import main

sys.exit(main())
