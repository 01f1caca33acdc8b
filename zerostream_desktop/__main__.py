import sys

from zerostream_desktop.cli import main

sys.exit(main())
