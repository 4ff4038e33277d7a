from beirctl.cli import run_cli

run_cli()
