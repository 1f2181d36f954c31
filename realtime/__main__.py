"""`python -m realtime` is `realtime-tts`."""

import sys

from realtime.cli import main

sys.exit(main())
