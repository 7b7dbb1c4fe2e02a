"""``python -m analyzer`` runs the msgtrace command line."""

from analyzer.cli import main

if __name__ == "__main__":
    main()
