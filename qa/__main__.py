import sys

from qa.apps.cli import main

sys.exit(main())
