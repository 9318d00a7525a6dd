"""The subcommands: `register(subparsers)` adds one, and its `run(args)` returns the exit status."""
