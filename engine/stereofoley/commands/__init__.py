"""One module per `stereofoley` subcommand; shared argument helpers live in `common`."""
