"""``python -m nbprofile.cli``: the ``nbprofile`` command."""

import sys

from nbprofile.cli.main import main

sys.exit(main())
