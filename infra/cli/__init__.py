"""`npq-events`, the command line: one module per command, each `register(parser)` adding
its options to the parser main.py made for it and its `run(args)` returning the exit status."""
