"""What the command-line entry points share: argument parsing with one-line errors, and terminal output."""
