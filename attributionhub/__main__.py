"""``python -m attributionhub``: the same command line as the ``attributionhub`` script."""

from attributionhub.cli import main

if __name__ == "__main__":
    main()
