"""`npq-events`, the command line: one module per command, each `register(subparsers)` adding it
and its `run(args)` returning the exit status."""
