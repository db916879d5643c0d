"""``python -m vectorizer``: same as the ``vectorizer`` command."""

import sys

from vectorizer.cli import main

if __name__ == "__main__":
    sys.exit(main())
