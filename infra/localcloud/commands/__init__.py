"""`nurture <command>`: one module per command, each exposing `add_arguments(parser)` and
`run(args) -> int`."""
