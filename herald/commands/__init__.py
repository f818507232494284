"""One module per `herald` command group."""
